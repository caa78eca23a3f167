"""
HAR 1.2 files (http://www.softwareishard.com/blog/har-12-spec/): one exchange per entry.

A customer's HAR carries their credentials. Cookie, Set-Cookie, Authorization and other
credential headers, secret-named query parameters and form fields are replaced here, at parse
time, by keyed fingerprints (`flakehunt.redact`), so the case store never holds them. Any
other place the same secret value turns up in the file (a cookie echoed in a tracking URL) is
replaced by the same fingerprint.

Browser quirks handled: a UTF-8 byte-order mark, local time offsets, status 0 for a request that
failed in the browser (Chrome's ``_error``, Firebug's "Aborted"), ``-1`` for unknown sizes and
timings, and Chrome's ``[::1]``-style bracketed server addresses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from flakehunt.errors import FlakehuntError
from flakehunt.ingest.read import DAMAGED, JSON_DOCUMENT_LIMIT, TooLargeError, read_whole
from flakehunt.redact import Redactor, secret_kind
from flakehunt.schema import EXCHANGE_SCHEMA, REJECT_SCHEMA, conform

FORMAT = "har"

# Vendor cache headers -> DESIGN's cache_status vocabulary; unknown values become "other".
_CLOUDFLARE_CACHE = {
    "hit": "hit",
    "miss": "miss",
    "expired": "miss",
    "stale": "stale",
    "updating": "stale",
    "revalidated": "revalidated",
    "bypass": "pass",
    "dynamic": "pass",
}
_X_CACHE_WORDS = {  # CloudFront "Hit from cloudfront", Fastly "HIT", Akamai "TCP_MEM_HIT from ..."
    "hit": "hit",
    "miss": "miss",
    "refreshhit": "refresh_hit",
    "refresh_hit": "refresh_hit",
    "refresh_miss": "miss",
    "error": "error",
    "pass": "pass",
    "stale": "stale",
    "hit-stale": "stale",
    "expired": "miss",
}
_REQUEST_ID_HEADERS = ("x-amz-cf-id", "cf-ray", "x-request-id", "x-fastly-request-id")
_SECRET_VALUE_MIN = 6  # shorter cookie values ("1", "true") are too common to hunt for elsewhere


def parse_har(path: Path, *, file_label: str, document: Any = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """
    Parse a HAR file into normalized exchanges, credentials already replaced.

    Parameters
    ----------
    path
        A HAR 1.2 file (JSON; a byte-order mark is fine).
    file_label
        What the `file` column says, usually the path as the user gave it.
    document
        The file's JSON, when the caller has parsed it already (ingest, to tell a HAR): not read again.

    Returns
    -------
    tuple[pl.DataFrame, pl.DataFrame]
        Exchanges (`schema.EXCHANGE_SCHEMA`, one row per entry, `line` = entry number from 1)
        and rejects (`schema.REJECT_SCHEMA`): entries without a URL or a readable start time.

    Raises
    ------
    FlakehuntError
        When the file cannot be read or is not a HAR file.
    """
    log = _har_log(_read_document(path) if document is None else document, path)
    redactor = Redactor()
    entries = log.get("entries")
    pages = {
        page["id"]: page
        for page in _list(log.get("pages"))
        if isinstance(page, dict) and _is_id(page.get("id"))
    }
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for number, entry in enumerate(entries, start=1):
        try:
            row = _entry_row(entry, redactor, pages)
        except _BadEntryError as exc:
            rejects.append(
                {"file": file_label, "line": number, "format": FORMAT, "reason": str(exc), "text": exc.text}
            )
            continue
        except (
            TypeError,
            ValueError,
            AttributeError,
            OverflowError,
            RecursionError,
        ) as exc:  # unforeseen shapes
            reason = f"entry does not follow HAR 1.2 ({type(exc).__name__}: {exc})"
            rejects.append(
                {"file": file_label, "line": number, "format": FORMAT, "reason": reason, "text": ""}
            )
            continue
        row.update(file=file_label, line=number, source="har", format=FORMAT)
        rows.append(row)
    leftovers = _secret_values(entries, redactor)
    exchanges = _scrub(conform(pl.DataFrame(rows, schema=EXCHANGE_SCHEMA)), leftovers, redactor)
    return exchanges, conform(pl.DataFrame(rejects, schema=REJECT_SCHEMA), REJECT_SCHEMA)


class _BadEntryError(ValueError):
    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(reason)
        self.text = text


def _read_document(path: Path) -> Any:
    try:
        raw = read_whole(path, limit=JSON_DOCUMENT_LIMIT)  # a HAR may come gzipped or zstd-compressed
    except TooLargeError:
        raise FlakehuntError(
            f"HAR file {str(path)!r} is over the {JSON_DOCUMENT_LIMIT >> 20} MB a HAR may be, decompressed "
            "(a HAR is read whole); record a shorter session"
        ) from None
    except DAMAGED as exc:
        raise FlakehuntError(f"HAR file {str(path)!r} is damaged: {exc}; was it cut short?") from None
    except OSError as exc:
        raise FlakehuntError(f"cannot read HAR file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FlakehuntError(
            f"HAR file {str(path)!r} is not UTF-8 (byte {exc.start}); export it again from the browser"
        ) from None
    except RecursionError:
        raise FlakehuntError(
            f"HAR file {str(path)!r} is nested more deeply than Python's JSON reader can follow"
        ) from None
    except json.JSONDecodeError as exc:
        joined = more_after_har(exc)
        if joined:
            raise FlakehuntError(f"HAR file {str(path)!r} {joined}") from None
        raise FlakehuntError(
            f"HAR file {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); was the export cut short?"
        ) from None


def more_after_har(exc: json.JSONDecodeError) -> str:
    """
    When the JSON that failed is a whole HAR followed by more (`cat a.har b.har`, a stray line),
    what to tell the user; "" when it is anything else, JSON lines among them.

    >>> try:
    ...     json.loads('{"log": {"entries": []}}\\n{"log": {"entries": []}}')
    ... except json.JSONDecodeError as exc:
    ...     more_after_har(exc)
    'holds a whole HAR document and then more, from line 2, column 1 (files joined?); keep one HAR per file'
    """
    if exc.msg != "Extra data":
        return ""
    try:
        first, _ = json.JSONDecoder().raw_decode(exc.doc.lstrip())
    except json.JSONDecodeError:
        return ""
    log = first.get("log") if isinstance(first, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        return ""
    return (
        f"holds a whole HAR document and then more, from line {exc.lineno}, column {exc.colno} "
        "(files joined?); keep one HAR per file"
    )


def _har_log(document: Any, path: Path) -> dict[str, Any]:
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise FlakehuntError(
            f"{str(path)!r} is JSON but not a HAR file (no 'log.entries'); "
            "export it from the browser's network panel with 'Save all as HAR'"
        )
    return log


def _entry_row(entry: Any, redactor: Redactor, pages: dict[Any, dict]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _BadEntryError(f"entry is a {type(entry).__name__}, not an object", str(entry)[:200])
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise _BadEntryError("entry has no request.url", str(entry.get("startedDateTime"))[:200])
    safe_url = redactor.redact_url(url)
    ts = _timestamp(entry.get("startedDateTime"))
    if ts is None:
        raise _BadEntryError(
            f"startedDateTime {entry.get('startedDateTime')!r} is not an ISO 8601 time", safe_url[:2000]
        )
    request_headers = _headers(request.get("headers"))
    response_headers = _headers(response.get("headers"))
    vendor: dict[str, str] = {}
    _add_vendor(vendor, entry, request, response, pages, redactor)
    for name, value in request_headers.items():
        vendor[f"request.headers.{name}"] = redactor.redact_header(name, value)
    for name, value in response_headers.items():
        vendor[f"response.headers.{name}"] = redactor.redact_header(name, value)

    parts = urlsplit(safe_url)
    status = _integer(response.get("status"), limit=None)
    if status is not None and not 0 <= status <= 999:
        raise _BadEntryError(f"response.status {status} is not an HTTP status", safe_url[:2000])
    error = response.get("_error") or entry.get("_error")
    cache_status = _cache_status(response_headers)
    content_length = _content_length(response, response_headers)
    if status == 0:  # the browser never got an answer: not a status anyone sent
        status = None
        error = error or response.get("statusText") or "no response"
        cache_status = "error"
        content_length = None
    if error:
        vendor["response._error"] = str(error)
    return {
        "ts": ts,
        "request_id": _first(
            response_headers, "x-amz-cf-id", "cf-ray", "x-request-id", "x-fastly-request-id"
        ),
        "method": _text(request.get("method")),
        "scheme": parts.scheme.lower() or None,
        "host": parts.hostname,
        "path": parts.path or "/",
        "query": parts.query or None,
        "status": status,
        "bytes_sent": _bytes_sent(response),
        "content_type": response_headers.get("content-type") or _text(_content(response).get("mimeType")),
        "content_length": content_length,
        "content_hash": _content_hash(_content(response)),
        "etag": response_headers.get("etag"),
        "last_modified": response_headers.get("last-modified"),
        "age": _integer(response_headers.get("age"), limit=2**31 - 1),
        "cache_status": cache_status,
        "edge_pop": _edge_pop(response_headers),
        "edge_ip": _text(entry.get("serverIPAddress"), strip="[] "),
        "time_taken_ms": _milliseconds(entry.get("time")),
        "ttfb_ms": _milliseconds(_object(entry.get("timings")).get("wait")),
        "user_agent": request_headers.get("user-agent"),
        "vendor": [{"key": key, "value": value} for key, value in vendor.items()],
    }


def _add_vendor(
    vendor: dict[str, str],
    entry: dict,
    request: dict,
    response: dict,
    pages: dict[Any, dict],
    redactor: Redactor,
) -> None:
    """Everything else worth keeping, under the HAR's own names."""
    pageref = entry.get("pageref")
    if _is_id(pageref):
        vendor["pageref"] = str(pageref)
        if started := (pages.get(pageref) or {}).get("startedDateTime"):
            vendor["page.startedDateTime"] = str(started)
    for key in ("connection", "serverIPAddress", "_resourceType", "_priority", "_fetchType", "_serverPort"):
        if entry.get(key) not in (None, ""):
            vendor[key] = str(entry[key])
    vendor["request.url"] = redactor.redact_url(str(request.get("url")))
    for key in ("httpVersion", "headersSize", "bodySize"):
        if request.get(key) not in (None, ""):
            vendor[f"request.{key}"] = str(request[key])
    for key in ("httpVersion", "statusText", "headersSize", "bodySize", "_transferSize", "redirectURL"):
        value = response.get(key)
        if value not in (None, ""):
            vendor[f"response.{key}"] = (
                redactor.redact_url(str(value)) if key == "redirectURL" else str(value)
            )
    for key, value in _object(entry.get("timings")).items():
        if isinstance(value, int | float) and value >= 0:
            vendor[f"timings.{key}"] = str(value)
    for side, message in (("request", request), ("response", response)):
        if cookies := _cookie_pairs(message.get("cookies"), redactor):
            vendor[f"{side}.cookies"] = cookies
    if post := request.get("postData"):
        vendor.update(_post_data(post, redactor))


def _post_data(post: Any, redactor: Redactor) -> dict[str, str]:
    if not isinstance(post, dict):
        return {}
    out = {}
    if post.get("mimeType"):
        out["request.postData.mimeType"] = str(post["mimeType"])
    params = [p for p in _list(post.get("params")) if isinstance(p, dict)]
    if params:
        out["request.postData.params"] = "&".join(
            f"{p.get('name', '')}={_redact_param(p, redactor)}" for p in params
        )
    text = post.get("text")
    if isinstance(text, str) and text:
        out["request.postData.text"] = _redact_body(text, str(post.get("mimeType") or ""), params, redactor)
    return out


def _redact_param(param: dict, redactor: Redactor) -> str:
    value = str(param.get("value") or "")
    kind = secret_kind(str(param.get("name") or ""))
    return redactor.fingerprint(value, kind) if kind and value else redactor.redact_secrets(value)


def _redact_body(text: str, mime_type: str, params: list[dict], redactor: Redactor) -> str:
    if "json" in mime_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json.dumps(redactor.redact_json(json.loads(text)), ensure_ascii=False)
        except ValueError:
            pass
    if "x-www-form-urlencoded" in mime_type:
        return redactor.redact_query(text)
    for param in params:  # multipart: the HAR lists the fields, so replace their values in the text
        value = str(param.get("value") or "")
        if value and secret_kind(str(param.get("name") or "")):
            text = text.replace(value, redactor.fingerprint(value, "password"))
    return redactor.redact_secrets(text)


def _cookie_pairs(cookies: Any, redactor: Redactor) -> str:
    pairs = [c for c in _list(cookies) if isinstance(c, dict) and c.get("name")]
    return "; ".join(f"{c['name']}={redactor.fingerprint(str(c.get('value', '')), 'cookie')}" for c in pairs)


def _secret_values(entries: list, redactor: Redactor) -> list[str]:
    """Every credential value in the file, to hunt down wherever else it appears."""
    found: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for side in ("request", "response"):
            message = entry.get(side) if isinstance(entry.get(side), dict) else {}
            for header in _list(message.get("headers")):
                if isinstance(header, dict) and secret_kind(str(header.get("name", ""))):
                    found.update(_header_secrets(str(header.get("name")), str(header.get("value") or "")))
            for cookie in _list(message.get("cookies")):
                if isinstance(cookie, dict):
                    found.add(str(cookie.get("value") or ""))
            for param in _list(message.get("queryString")):
                if isinstance(param, dict) and secret_kind(str(param.get("name", ""))):
                    found.add(str(param.get("value") or ""))
            post = message.get("postData") if isinstance(message.get("postData"), dict) else {}
            for param in _list(post.get("params")):
                if isinstance(param, dict) and secret_kind(str(param.get("name", ""))):
                    found.add(str(param.get("value") or ""))
    return sorted((v for v in found if len(v) >= _SECRET_VALUE_MIN), key=len, reverse=True)


def _header_secrets(name: str, value: str) -> Iterable[str]:
    lowered = name.lower()
    if lowered == "cookie":
        return [pair.partition("=")[2].strip() for pair in value.split(";")] + [value]
    if lowered.startswith("set-cookie"):
        return [line.partition(";")[0].partition("=")[2].strip() for line in value.split("\n")] + [value]
    if secret_kind(name) == "authorization":
        return [value, value.partition(" ")[2].strip()]
    return [value]


def _scrub(frame: pl.DataFrame, secrets_: list[str], redactor: Redactor) -> pl.DataFrame:
    """Replace any remaining occurrence of a known secret value, in every string column."""
    if not secrets_ or frame.is_empty():
        return frame
    pattern = re.compile("|".join(re.escape(value) for value in secrets_))

    def scrub(text: str) -> str:
        return pattern.sub(lambda m: redactor.fingerprint(m[0], "cookie"), text)

    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    frame = frame.with_columns(pl.col(name).map_elements(scrub, return_dtype=pl.String) for name in strings)
    return frame.with_columns(
        pl.col("vendor").list.eval(
            pl.struct(
                pl.element().struct.field("key"),
                pl.element().struct.field("value").map_elements(scrub, return_dtype=pl.String),
            )
        )
    )


def _headers(headers: Any) -> dict[str, str]:
    """Lower-cased names; repeated headers joined the way browsers show them (Set-Cookie by newline)."""
    out: dict[str, str] = {}
    for header in _list(headers):
        if not isinstance(header, dict) or not header.get("name"):
            continue
        name = str(header["name"]).strip().lower()
        value = str(header.get("value") if header.get("value") is not None else "")
        if name in out:
            out[name] += ("\n" if name.startswith("set-cookie") else ", ") + value
        else:
            out[name] = value
    return out


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:  # HAR requires an offset; a naive time is taken as UTC
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _cache_status(headers: dict[str, str]) -> str | None:
    if value := headers.get("cf-cache-status"):
        return _CLOUDFLARE_CACHE.get(value.strip().lower(), "other")
    if value := headers.get("x-cache"):
        # "HIT, HIT" with Fastly shielding: the last is the edge that answered the browser
        last = value.split(",")[-1].strip().lower()
        word = last.split(" ")[0]
        if word.startswith("tcp_"):  # Akamai: TCP_MEM_HIT, TCP_REFRESH_MISS ...
            word = word.removeprefix("tcp_").removeprefix("mem_").removeprefix("ims_")
        return _X_CACHE_WORDS.get(word, "other")
    if value := headers.get("cache-status"):  # RFC 9211: "Cache; hit" or "Cache; fwd=miss"
        last = value.split(",")[-1].lower()
        if re.search(r";\s*hit\b", last):
            return "hit"
        if match := re.search(r"fwd=([a-z-]+)", last):
            return {"stale": "stale", "bypass": "pass"}.get(match[1], "miss")
        return "other"
    return None


def _edge_pop(headers: dict[str, str]) -> str | None:
    if pop := headers.get("x-amz-cf-pop"):
        return pop.strip()
    if ray := headers.get("cf-ray"):
        _, dash, colo = ray.strip().rpartition("-")
        if dash and colo:
            return colo
    if served_by := headers.get("x-served-by"):
        last = served_by.split(",")[-1].strip()
        if last.startswith("cache-"):
            return last
    return None


def _first(headers: dict[str, str], *names: str) -> str | None:
    for name in names:
        if value := headers.get(name):
            return value.strip()
    return None


def _content(response: dict) -> dict:
    content = response.get("content")
    return content if isinstance(content, dict) else {}


def _bytes_sent(response: dict) -> int | None:
    """Bytes on the wire: Chrome's/Safari's _transferSize, else headers + body when known."""
    transfer = _integer(response.get("_transferSize"))
    if transfer is not None and transfer >= 0:
        return transfer
    sizes = [_integer(response.get(key)) for key in ("headersSize", "bodySize")]
    known = [size for size in sizes if size is not None and size >= 0]
    return _integer(sum(known)) if known else None


def _content_length(response: dict, headers: dict[str, str]) -> int | None:
    length = _integer(headers.get("content-length"))
    if length is None:
        length = _integer(_content(response).get("size"))
    return length if length is not None and length >= 0 else None


def _content_hash(content: dict) -> str | None:
    """sha256 of the response body when the HAR kept it: which asset version the browser got."""
    text = content.get("text")
    if not isinstance(text, str) or not text:
        return None
    if content.get("encoding") == "base64":
        try:
            body = base64.b64decode(text, validate=False)
        except ValueError:
            return None
    else:
        body = text.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _integer(value: Any, *, limit: int | None = 2**63 - 1) -> int | None:
    """`value` as an int within +-`limit` (an Int64's by default; None: any), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if limit is None or -limit <= number <= limit else None


def _is_id(value: Any) -> bool:
    """A page id or pageref as HAR has them: a string (some tools write a number)."""
    return isinstance(value, str | int) and not isinstance(value, bool)


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _milliseconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _text(value: Any, *, strip: str | None = None) -> str | None:
    if value is None:
        return None
    text = str(value).strip(strip)
    return text or None
