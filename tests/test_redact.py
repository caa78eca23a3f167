"""Redaction: what a report may show the customer. Property tests plus a corpus of realistic secrets."""

from __future__ import annotations

import ipaddress
import re
import string
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flakehunt.redact import Redactor, fingerprint, load_key, redact_text, secret_kind

KEY = b"test-key"

# An independent definition of "an IPv4 address is in the text": four dot-separated numbers
# 0-255 that are not part of a longer number.
_DOTTED_QUAD = re.compile(r"(?<!\d)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\d)")


def ipv4_addresses_in(text: str) -> list[str]:
    return [m[0] for m in _DOTTED_QUAD.finditer(text) if all(int(part) <= 255 for part in m.groups())]


def emails_in(text: str) -> list[str]:
    """Anything shaped like an email address; a URL's user-info ("http://u:p@host") is not one."""
    return [m for m in re.findall(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}", text) if "://" not in m]


# Realistic secrets as they appear in logs, HARs, tickets and config dumps (all made up).
SECRETS = {
    "bearer header": (
        "Authorization: Bearer 4f9a1c2e7b8d4e0f9a1c2e7b8d4e0f9a",
        "4f9a1c2e7b8d4e0f9a1c2e7b8d4e0f9a",
    ),
    "basic header": ("authorization: Basic YW5uOmNvcnJlY3QtaG9yc2U=", "YW5uOmNvcnJlY3QtaG9yc2U="),
    "cookie header": ("Cookie: session=9b1e3f7a2c4d6e8f; theme=dark-mode-v2", "9b1e3f7a2c4d6e8f"),
    "set-cookie": ("Set-Cookie: __Host-sid=Zx81kQ9pLmN2; Path=/; Secure; HttpOnly", "Zx81kQ9pLmN2"),
    "api key header": ("X-Api-Key: sk-proj-7Qm2RkT9vW4yZ1bN3cX5", "sk-proj-7Qm2RkT9vW4yZ1bN3cX5"),
    "query token": (
        "GET /callback?code=7f3k9QpZ&state=xyz&access_token=ya29.a0AfH6SM HTTP/1.1",
        "ya29.a0AfH6SM",
    ),
    "oauth code": ("GET /callback?code=7f3k9QpZabc&state=xyz HTTP/1.1", "7f3k9QpZabc"),
    "signed url": (
        "https://cdn.example/a.js?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240501&X-Amz-Signature=abcdef0123456789",
        "abcdef0123456789",
    ),
    "aws key id": ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    "aws secret": (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    "jwt": (
        "sent eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ),
    "json password": (
        '{"user": "ann", "password": "correct horse battery staple"}',
        "correct horse battery staple",
    ),
    "json api key": (
        '{"apiKey": "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"}',
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    ),
    "form password": ("user=ann&passwd=hunter2hunter2&remember=1", "hunter2hunter2"),
    "github token": (
        "git remote set-url origin ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    "slack token": ("SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012"),
    "stripe key": ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    "url userinfo": ("proxy=http://ann:pr0xyPassw0rd@proxy.example:3128", "pr0xyPassw0rd"),
    "private key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA75Zr\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA75Zr",
    ),
    "har header json": ('{"name": "Cookie", "value": "SID=YAieF18TdLas-8SKhGKN"}', "YAieF18TdLas-8SKhGKN"),
    "client ip": ("client 203.0.113.77 got a 502", "203.0.113.77"),
    "client ipv6": ("client [2001:db8:85a3::8a2e:370:7334]:443 got a 502", "2001:db8:85a3::8a2e:370:7334"),
    "mapped ipv6": ("from ::ffff:198.51.100.4", "198.51.100.4"),
    "email": (
        "reported by Ann.Smith+cdn@customer-example.co.uk today",
        "Ann.Smith+cdn@customer-example.co.uk",
    ),
}


@pytest.mark.parametrize("name", SECRETS)
def test_no_realistic_secret_survives(name: str) -> None:
    text, secret = SECRETS[name]
    redacted, counts = redact_text(text, key=KEY)
    assert secret not in redacted
    assert counts, "something must be counted"


def test_the_whole_secret_corpus_in_one_document() -> None:
    document = "\n".join(text for text, _ in SECRETS.values())
    redactor = Redactor(key=KEY)
    redacted = redactor.redact_text(document)
    assert [name for name, (_, secret) in SECRETS.items() if secret in redacted] == []
    assert ipv4_addresses_in(redacted) == []
    assert emails_in(redacted) == []
    manifest = redactor.manifest()
    for phrase in ("IP address", "email address", "cookie", "authorization header", "password", "JWT"):
        assert phrase in manifest


def test_ordinary_text_is_left_alone() -> None:
    text = "GET /static/app.js?v=1.86.2 200 from FRA56-C1 at 12:34:56; cache-control: max-age=3600"
    assert redact_text(text, key=KEY) == (text, {})


def test_pseudonyms_are_consistent_within_a_redactor() -> None:
    redactor = Redactor(key=KEY)
    first = redactor.redact_text("192.0.2.1 then 2001:db8::1 then 192.0.2.1")
    a, b, c = first.split(" then ")
    assert a == c != b
    assert redactor.redact_text("again 2001:0db8:0:0::1") == f"again {b}"  # the same address, written longer
    assert redactor.counts["ip"] == 4
    assert redactor.manifest() == "4 IP addresses"


def test_fingerprints_depend_on_the_key() -> None:
    assert fingerprint("abc", key=b"one") == fingerprint("abc", key=b"one") != fingerprint("abc", key=b"two")
    assert re.fullmatch(r"fp:[0-9a-f]{12}", fingerprint("abc", key=b"one"))


def test_the_installation_key_is_created_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAKEHUNT_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    key = load_key()
    path = tmp_path / "flakehunt" / "key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key() == key and len(key) == 64
    monkeypatch.setenv("FLAKEHUNT_KEY", "from-env")
    assert load_key() == b"from-env"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Cookie", "cookie"),
        ("set-cookie", "cookie"),
        ("Proxy-Authorization", "authorization"),
        ("x-api-key", "token"),
        ("X-Amz-Security-Token", "token"),
        ("access_token", "token"),
        ("apiKey", "token"),
        ("PHPSESSID", "token"),
        ("new_password", "password"),
        ("pwd", "password"),
        ("keyword", None),
        ("Keep-Alive", None),
        ("x-amz-cf-id", None),
        ("author", None),
        ("www-authenticate", None),
        ("countryCode", None),
    ],
)
def test_secret_names(name: str, kind: str | None) -> None:
    assert secret_kind(name) == kind


def test_redact_column_counts_every_row_and_keeps_nulls() -> None:
    frame = pl.DataFrame({"query": ["a=1&token=abc123", "a=1&token=abc123", None, "v=2"], "n": [1, 2, 3, 4]})
    redactor = Redactor(key=KEY)
    out = redactor.redact_column(frame, "query", how="query")
    assert out["query"].to_list() == [
        f"a=1&token={fingerprint('abc123', key=KEY)}",
        f"a=1&token={fingerprint('abc123', key=KEY)}",
        None,
        "v=2",
    ]
    assert out["n"].to_list() == [1, 2, 3, 4]
    assert redactor.manifest() == "2 tokens or keys"


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_SEPARATOR = st.sampled_from([" ", "\n", "\t", ", ", " (", ") ", ": ", '"', "=", "/", "[", "] "])


@settings(max_examples=300)
@given(
    pieces=st.lists(
        st.one_of(
            _TEXT.map(lambda text: ("text", text)),
            st.ip_addresses(v=4).map(lambda ip: ("ip", str(ip))),
            st.ip_addresses(v=6).map(lambda ip: ("ip", str(ip))),
            st.emails().map(lambda email: ("email", email)),
        ),
        max_size=12,
    ),
    separator=_SEPARATOR,
)
def test_redacted_text_holds_no_ipv4_address_and_no_email(
    pieces: list[tuple[str, str]], separator: str
) -> None:
    redacted, _ = redact_text(separator.join(text for _, text in pieces), key=KEY)
    assert ipv4_addresses_in(redacted) == []
    assert [text for kind, text in pieces if kind == "email" and text in redacted] == []


@settings(max_examples=300)
@given(
    before=st.text(alphabet=string.ascii_letters + " ", max_size=20),
    # "::" (no address at all) is left alone: nothing personal, and it is also C++ and Rust syntax
    address=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6).filter(lambda ip: not ip.is_unspecified)),
    email=st.emails(),
    after=st.text(alphabet=string.ascii_letters + " ,.;", max_size=20),
)
def test_every_inserted_address_and_email_is_gone(before: str, address, email: str, after: str) -> None:
    text = f"{before} {address} sent by {email} {after}"
    redacted, counts = redact_text(text, key=KEY)
    assert str(address) not in redacted
    assert email not in redacted
    assert counts["email"] == 1
    leftovers = [token for token in re.split(r"[\s,;]+", redacted) if _is_ip(token)]
    assert leftovers == []


def _is_ip(token: str) -> bool:
    try:
        ipaddress.ip_address(token.strip("[]."))
    except ValueError:
        return False
    return True


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_redaction_never_crashes_and_is_idempotent(text: str) -> None:
    redactor = Redactor(key=KEY)
    once = redactor.redact_text(text)
    assert redactor.redact_text(once) == once
