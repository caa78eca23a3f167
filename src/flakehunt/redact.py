"""
Redaction primitives shared by HAR ingest and the reports (DESIGN.md, "Safe to share").

Every secret is replaced by a short keyed fingerprint, HMAC-SHA256 under a per-installation key,
so two requests that carried the same cookie still compare equal while the value itself is gone:

- a value at a known place (a header, cookie, query parameter, form or JSON field) becomes
  ``fp:1a2b3c4d5e6f``;
- something found in free text becomes ``<kind>:1a2b3c4d5e6f`` (``ip:…``, ``email:…``, ``jwt:…``),
  so a reader still sees what was there and which occurrences are the same.

A `Redactor` counts what it removed per kind, which is what a report's redaction manifest prints.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import polars as pl

KEY_ENV_VAR = "FLAKEHUNT_KEY"
FINGERPRINT_PREFIX = "fp:"
_FINGERPRINT_HEX = 12

# kind -> (singular, plural) for the manifest; the order is the manifest's order.
KINDS: dict[str, tuple[str, str]] = {
    "ip": ("IP address", "IP addresses"),
    "email": ("email address", "email addresses"),
    "cookie": ("cookie", "cookies"),
    "authorization": ("authorization header", "authorization headers"),
    "credential_header": ("credential header", "credential headers"),
    "password": ("password", "passwords"),
    "token": ("token or key", "tokens or keys"),
    "jwt": ("JWT", "JWTs"),
    "aws_key": ("AWS access key", "AWS access keys"),
    "private_key": ("private key", "private keys"),
    "url_credentials": ("password in a URL", "passwords in URLs"),
}

# Words that make a header, parameter or field name secret ("access_token", "apiKey", "X-Amz-Signature").
_SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "apikey",
        "key",
        "session",
        "sessionid",
        "sessid",
        "jsessionid",
        "phpsessid",
        "sid",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "signature",
        "sig",
        "jwt",
        "otp",
        "pin",
        "csrf",
        "xsrf",
        "passcode",
        "bearer",
    }
)
_PASSWORD_WORDS = frozenset({"password", "passwd", "pass", "pwd", "passphrase"})
_SECRET_NAMES = frozenset({"code", "access_token", "refresh_token", "id_token", "client_secret"})
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie", "set-cookie2"})
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_PATTERN = re.compile(rf"(?<!\d){_OCTET}(?:\.{_OCTET}){{3}}(?!\d)")
# A loose IPv6 candidate, confirmed by `ipaddress` before anything is replaced.
_IPV6_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?:%[0-9A-Za-z]+)?(?![0-9A-Za-z:])"
)
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
# Vendor token shapes: GitHub, Slack, Stripe, Google API keys, npm, SendGrid.
_VENDOR_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})"
)
_AUTH_SCHEME = re.compile(
    r"(?i)\b(Bearer|Basic|Digest|Token|Negotiate|NTLM|AWS4-HMAC-SHA256)(\s+)([^\s\"',;]{6,})"
)
_HEADER_LINE = re.compile(r"(?im)^([ \t]*)([A-Za-z0-9-]+)([ \t]*:[ \t]*)([^\r\n]+)")
_QUOTED_PAIR = re.compile(r"""(?i)(["']?)([A-Za-z0-9_.-]+)\1(\s*[:=]\s*)(["'])((?:(?!\4)[^\\]|\\.)*)\4""")
_HAR_HEADER = re.compile(r'(?i)("name"\s*:\s*")([^"]+)("\s*,\s*"value"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_KEY_VALUE = re.compile(r"(?<![A-Za-z0-9_.%-])([A-Za-z0-9_.%\[\]-]+)=([^&\s#\"'<>;,]+)")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)(@)")


def load_key(path: Path | None = None) -> bytes:
    """
    The per-installation fingerprint key: env FLAKEHUNT_KEY, else a file created on first use.

    The file is ``$XDG_CONFIG_HOME/flakehunt/key`` (``~/.config/flakehunt/key``), 32 random bytes
    in hex, readable by its owner only.
    """
    if configured := os.environ.get(KEY_ENV_VAR):
        return configured.encode()
    if path is None:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        path = config / "flakehunt" / "key"
    try:
        return path.read_text().strip().encode()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key.encode()


def fingerprint(value: str, *, key: bytes) -> str:
    """
    A short keyed fingerprint of `value`: equal values give equal fingerprints under one key.

    >>> fingerprint("session=abc", key=b"k")
    'fp:442e5a8a01fd'
    """
    return FINGERPRINT_PREFIX + _digest(value, key)


def _digest(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[
        :_FINGERPRINT_HEX
    ]


def secret_kind(name: str) -> str | None:
    """
    Whether a header, parameter or field called `name` holds a secret, and which kind.

    >>> secret_kind("apiKey"), secret_kind("X-Amz-Signature"), secret_kind("user_password")
    ('token', 'token', 'password')
    >>> secret_kind("keyword") is None, secret_kind("Keep-Alive") is None
    (True, True)
    """
    lowered = unquote_plus(name).strip().lower()
    if lowered in _COOKIE_HEADERS:
        return "cookie"
    if lowered in _AUTH_HEADERS:
        return "authorization"
    words = {word.lower() for word in _NAME_WORDS.findall(unquote_plus(name))}
    words.add(re.sub(r"[^a-z0-9]", "", lowered))
    if words & _PASSWORD_WORDS:
        return "password"
    if words & _SECRET_WORDS or lowered in _SECRET_NAMES:
        return "token"
    return None


class Redactor:
    """
    Replace secrets and personal data by keyed fingerprints, counting each kind removed.

    One instance gives consistent pseudonyms: the same IP address is the same ``ip:…`` token
    everywhere it redacts it. `manifest()` says what was removed, for a report's reader.

    Parameters
    ----------
    key
        The fingerprint key; by default `load_key()`.

    Examples
    --------
    >>> r = Redactor(key=b"k")
    >>> r.redact_text("GET /?token=s3cr3t from 192.0.2.7 by ann@example.com")
    'GET /?token=fp:4132301b5dcc from ip:08a964eaccdc by email:812b5e652839'
    >>> r.manifest()
    '1 IP address, 1 email address, 1 token or key'
    """

    def __init__(self, *, key: bytes | None = None, keep_addresses: Iterable[str] = ()) -> None:
        self.key = load_key() if key is None else key
        self.counts: Counter[str] = Counter()
        # Infrastructure addresses (CDN edges a report tells you to purge) are not personal data.
        self.keep_addresses = {_normal_address(a) for a in keep_addresses}

    # -- values at a known place ---------------------------------------------------------------

    def fingerprint(self, value: str, kind: str) -> str:
        """Replace one whole value, counting it as `kind`."""
        self.counts[kind] += 1
        return FINGERPRINT_PREFIX + _digest(value, self.key)

    def pseudonym(self, value: str, kind: str) -> str:
        """The ``<kind>:<hex>`` token free-text redaction writes for `value`."""
        self.counts[kind] += 1
        return f"{kind}:{_digest(value, self.key)}"

    def ip(self, address: str) -> str:
        """A consistent pseudonym for an IP address (normalized first, so ``::1`` == ``0::1``)."""
        address = _normal_address(address)
        if address in self.keep_addresses:
            return address
        return self.pseudonym(address, "ip")

    def redact_header(self, name: str, value: str) -> str:
        """
        A header value with its secrets replaced; the header's name decides how.

        Cookies keep their names (``a=fp:…; b=fp:…``), Set-Cookie its attributes, Authorization its
        scheme (``Bearer fp:…``); other credential-like headers lose the whole value. Any other
        header only loses secrets found inside it (a token in a Referer's query string).

        >>> Redactor(key=b"k").redact_header("Cookie", "sid=abc; theme=dark")
        'sid=fp:342e519ce0ad; theme=fp:91086b5fb8d7'
        """
        kind = secret_kind(name)
        lowered = name.strip().lower()
        if lowered == "cookie":
            return self.redact_cookie(value)
        if lowered.startswith("set-cookie"):
            return self.redact_set_cookie(value)
        if kind == "authorization":
            scheme, space, credentials = value.strip().partition(" ")
            if space and credentials:
                return f"{scheme} {self.fingerprint(credentials.strip(), 'authorization')}"
            return self.fingerprint(value, "authorization")
        if kind is not None:
            return self.fingerprint(value, "credential_header" if kind == "token" else kind)
        return self.redact_secrets(value)

    def redact_cookie(self, header: str) -> str:
        """Every value of a Cookie header, names kept."""
        parts = []
        for pair in header.split(";"):
            name, equals, value = pair.strip().partition("=")
            if equals:
                parts.append(f"{name}={self.fingerprint(value, 'cookie')}")
            elif name:
                parts.append(self.fingerprint(name, "cookie"))
        return "; ".join(parts)

    def redact_set_cookie(self, header: str) -> str:
        """A Set-Cookie header's value; its attributes (Path, Expires, ...) are not secret."""
        lines = []
        for line in header.split("\n"):  # browsers join repeated Set-Cookie headers with newlines
            first, _, attributes = line.partition(";")
            name, equals, value = first.strip().partition("=")
            cookie = (
                f"{name}={self.fingerprint(value, 'cookie')}" if equals else self.fingerprint(name, "cookie")
            )
            lines.append(cookie + (";" + attributes if attributes else ""))
        return "\n".join(lines)

    def redact_query(self, query: str) -> str:
        """
        A query string (or form body) with secret-named parameters' values fingerprinted.

        The rest keeps its original encoding.

        >>> Redactor(key=b"k").redact_query("a=1&access_token=xyz&b=%20")
        'a=1&access_token=fp:1e1095668ba6&b=%20'
        """
        out = []
        for piece in query.split("&"):
            name, equals, value = piece.partition("=")
            kind = secret_kind(name) if equals and value else None
            out.append(f"{name}={self.fingerprint(value, kind)}" if kind else self.redact_secrets(piece))
        return "&".join(out)

    def redact_url(self, url: str) -> str:
        """A URL with credentials in its user-info and secret query parameters replaced."""
        url = _URL_USERINFO.sub(lambda m: m[1] + self.fingerprint(m[2], "url_credentials") + m[3], url)
        base, question, rest = url.partition("?")
        if not question:
            return self.redact_secrets(url)
        query, hash_, fragment = rest.partition("#")
        return f"{self.redact_secrets(base)}?{self.redact_query(query)}{hash_}{self.redact_secrets(fragment)}"

    def redact_json(self, value: Any, *, addresses: bool = False) -> Any:
        """
        A parsed JSON value with secret-named fields fingerprinted, recursively.

        With `addresses`, strings also lose IP and email addresses (`redact_text`), as anything
        leaving the team must; otherwise only credentials go (`redact_secrets`).
        """
        if isinstance(value, dict):
            out = {}
            for name, item in value.items():
                kind = secret_kind(str(name))
                if kind is not None and item not in (None, "", [], {}):
                    text = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
                    out[name] = self.fingerprint(text, kind)
                else:
                    out[name] = self.redact_json(item, addresses=addresses)
            return out
        if isinstance(value, list):
            return [self.redact_json(item, addresses=addresses) for item in value]
        if isinstance(value, str):
            return self.redact_text(value) if addresses else self.redact_secrets(value)
        return value

    # -- free text -----------------------------------------------------------------------------

    def redact_secrets(self, text: str) -> str:
        """
        Credentials found in free text: auth values, cookies, tokens, keys, JWTs, passwords.

        Addresses and emails stay; `redact_text` removes those as well.
        """
        if not text:
            return text
        text = _PRIVATE_KEY.sub(lambda m: self.pseudonym(m[0], "private_key"), text)
        text = _HAR_HEADER.sub(lambda m: m[1] + m[2] + m[3] + self._header_in_text(m[2], m[4]) + m[5], text)
        text = _HEADER_LINE.sub(lambda m: m[1] + m[2] + m[3] + self._header_in_text(m[2], m[4]), text)
        text = _QUOTED_PAIR.sub(self._quoted_pair, text)
        text = _URL_USERINFO.sub(lambda m: m[1] + self.fingerprint(m[2], "url_credentials") + m[3], text)
        text = _KEY_VALUE.sub(self._key_value, text)
        text = _AUTH_SCHEME.sub(lambda m: m[1] + m[2] + self._auth_value(m[3]), text)
        text = _JWT.sub(lambda m: self.pseudonym(m[0], "jwt"), text)
        text = _AWS_KEY_ID.sub(lambda m: self.pseudonym(m[0], "aws_key"), text)
        return _VENDOR_TOKEN.sub(lambda m: self.pseudonym(m[0], "token"), text)

    def redact_text(self, text: str) -> str:
        """`redact_secrets`, then IPv4/IPv6 addresses and email addresses."""
        if not text:
            return text
        text = self.redact_secrets(text)
        text = EMAIL_PATTERN.sub(self._email, text)
        text = _IPV6_CANDIDATE.sub(self._ipv6, text)  # first, so ::ffff:192.0.2.1 is one address
        return IPV4_PATTERN.sub(lambda m: self.ip(m[0]), text)

    def _header_in_text(self, name: str, value: str) -> str:
        if _is_redacted(value) or secret_kind(name) is None:
            return value
        return self.redact_header(name, value)

    def _quoted_pair(self, match: re.Match[str]) -> str:
        kind = secret_kind(match[2])
        value = match[5]
        if kind is None or not value or _is_redacted(value):
            return match[0]
        if kind == "authorization":
            redacted = self.redact_header(match[2], value)
        elif kind == "cookie":
            redacted = self.redact_cookie(value)
        else:
            redacted = self.fingerprint(value, kind)
        return match[0][: match.start(5) - match.start(0)] + redacted + match[4]

    def _key_value(self, match: re.Match[str]) -> str:
        kind = secret_kind(match[1])
        if kind is None or _is_redacted(match[2]):
            return match[0]
        return f"{match[1]}={self.fingerprint(match[2], kind)}"

    def _auth_value(self, value: str) -> str:
        return value if _is_redacted(value) else self.fingerprint(value, "authorization")

    def _email(self, match: re.Match[str]) -> str:
        if _is_redacted_local_part(match):  # "http://ann:fp:1a2b…@host" is already done
            return match[0]
        return self.pseudonym(match[0].lower(), "email")

    def _ipv6(self, match: re.Match[str]) -> str:
        candidate = match[0]
        if not re.search(r"[0-9A-Fa-f]", candidate.replace(":", "")):
            return candidate
        try:
            ipaddress.ip_address(candidate.split("%")[0])
        except ValueError:
            return candidate
        return self.ip(candidate)

    # -- columns and the manifest --------------------------------------------------------------

    def redact_column(
        self, frame: pl.DataFrame, column: str, *, how: str | Callable[[str], str] = "text"
    ) -> pl.DataFrame:
        """
        `frame` with one string column redacted, each distinct value once.

        Parameters
        ----------
        how
            ``"text"`` (`redact_text`), ``"secrets"``, ``"ip"`` (pseudonyms), ``"url"``,
            ``"query"``, or any function from a value to its redacted value.

        Examples
        --------
        >>> frame = pl.DataFrame({"client_ip": ["192.0.2.1", "192.0.2.1", None]})
        >>> r = Redactor(key=b"k")
        >>> r.redact_column(frame, "client_ip", how="ip")["client_ip"].to_list()
        ['ip:d576d687f6b2', 'ip:d576d687f6b2', None]
        >>> r.counts["ip"]
        2
        """
        function = self._column_functions()[how] if isinstance(how, str) else how
        counts = frame.get_column(column).drop_nulls().value_counts()
        old, new = [], []
        for value, times in counts.iter_rows():
            before = Counter(self.counts)
            old.append(value)
            new.append(function(value))
            for kind, added in (self.counts - before).items():  # count every row, not each value once
                self.counts[kind] += added * (times - 1)
        if not old:
            return frame
        return frame.with_columns(
            pl.col(column).replace_strict(old, new, default=None, return_dtype=pl.String)
        )

    def _column_functions(self) -> dict[str, Callable[[str], str]]:
        return {
            "text": self.redact_text,
            "secrets": self.redact_secrets,
            "ip": self.ip,
            "url": self.redact_url,
            "query": self.redact_query,
        }

    def manifest(self) -> str:
        """
        What was removed, for the reader: ``"7 IP addresses, 2 cookies"``, or ``"nothing"``.
        """
        parts = []
        for kind in [*KINDS, *sorted(set(self.counts) - set(KINDS))]:
            if count := self.counts.get(kind, 0):
                singular, plural = KINDS.get(kind, (kind, kind))
                parts.append(f"{count} {singular if count == 1 else plural}")
        return ", ".join(parts) or "nothing"


def redact_text(text: str, *, key: bytes | None = None) -> tuple[str, dict[str, int]]:
    """
    Remove addresses, emails and credentials from `text`.

    Returns
    -------
    tuple[str, dict[str, int]]
        The redacted text and how many of each kind were removed.

    Examples
    --------
    >>> redact_text("Authorization: Bearer abc.def.ghi", key=b"k")
    ('Authorization: Bearer fp:0284495b0394', {'authorization': 1})
    """
    redactor = Redactor(key=key)
    return redactor.redact_text(text), dict(redactor.counts)


def _is_redacted_local_part(match: re.Match[str]) -> bool:
    start = match.start()
    return match.string[max(0, start - 3) : start] == FINGERPRINT_PREFIX and bool(
        re.match(r"[0-9a-f]{12}@", match[0])
    )


def _is_redacted(value: str) -> bool:
    return value.startswith(FINGERPRINT_PREFIX) or bool(re.fullmatch(r"[a-z_]+:[0-9a-f]{12}", value))


def _normal_address(address: str) -> str:
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(address.strip().strip("[]")))
    return address
