"""
Formats built from what the user says on the command line: an nginx `log_format` directive,
a W3C field list (CloudFront real-time logs have no header), or a JSON key mapping.
"""

from __future__ import annotations

import re
from dataclasses import replace

from flakehunt.errors import FlakehuntError
from flakehunt.formats.loader import TARGETS, FieldMap, Format, Sample, Timestamp

# nginx variables -> normalized columns (https://nginx.org/en/docs/varindex.html).
NGINX_VARIABLES: dict[str, dict] = {
    "remote_addr": {"to": "client_ip", "keep": True},
    "request": {"to": "request", "keep": True},
    "request_method": {"to": "method"},
    "request_uri": {"to": "target"},
    "uri": {"to": "path"},
    "document_uri": {"to": "path"},
    "args": {"to": "query"},
    "query_string": {"to": "query"},
    "scheme": {"to": "scheme"},
    "host": {"to": "host"},
    "http_host": {"to": "host"},
    "server_name": {"to": "host"},
    "status": {"to": "status"},
    "body_bytes_sent": {"to": "bytes_sent"},
    "bytes_sent": {"to": "bytes_sent"},
    "http_user_agent": {"to": "user_agent"},
    "request_time": {"to": "time_taken_ms", "scale": 1000.0},
    "request_id": {"to": "request_id"},
    "http_x_request_id": {"to": "request_id"},
    "http_x_amz_cf_id": {"to": "request_id"},
    "http_cf_ray": {"to": "request_id"},
    "sent_http_content_type": {"to": "content_type"},
    "sent_http_etag": {"to": "etag"},
    "sent_http_last_modified": {"to": "last_modified"},
    "sent_http_age": {"to": "age"},
    "upstream_cache_status": {"to": "cache_status", "vocab": "cache_status"},
}
NGINX_CACHE_VOCAB = {
    "HIT": "hit",
    "MISS": "miss",
    "EXPIRED": "miss",
    "STALE": "stale",
    "UPDATING": "stale",
    "REVALIDATED": "revalidated",
    "BYPASS": "pass",
}
_TIME_VARIABLES = {"time_local": "%d/%b/%Y:%H:%M:%S %z", "time_iso8601": "rfc3339", "msec": "epoch"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def nginx_log_format(directive: str, *, name: str = "nginx_log_format") -> Format:
    r"""
    Build a regex format from an nginx `log_format` string.

    Accepts the format string alone or the whole directive (`log_format main '...' '...';`).
    Quoted variables match up to the closing quote, `[$time_local]` up to `]`, others a run of
    non-spaces.

    >>> fmt = nginx_log_format('$remote_addr [$time_local] "$request" $status $request_id')
    >>> fmt.patterns[0][1][:40]
    '^(?P<remote_addr>\\S+)\\ \\[(?P<time_local>'
    """
    text = _strip_directive(directive)
    seen: list[str] = []
    pattern = ["^"]
    pos = 0
    for match in _VARIABLE.finditer(text):
        literal = text[pos : match.start()]
        pattern.append(re.escape(literal))
        variable = match.group(1) or match.group(2)
        after = text[match.end() : match.end() + 1]
        before = literal[-1:] if literal else ""
        if variable in seen:
            group = "(?:" + _value_pattern(before, after) + ")"
        else:
            seen.append(variable)
            group = f"(?P<{variable}>{_value_pattern(before, after)})"
        pattern.append(group)
        pos = match.end()
    pattern.append(re.escape(text[pos:]) + r"\s*$")
    if not seen:
        raise FlakehuntError(f"nginx log_format {directive[:60]!r} has no $variables; pass the format string")
    time_vars = [v for v in seen if v in _TIME_VARIABLES]
    if not time_vars:
        raise FlakehuntError(
            f"nginx log_format {directive[:60]!r} logs no time ($time_local, $time_iso8601 or $msec)"
        )
    fields = tuple(FieldMap(vendor=v, **NGINX_VARIABLES[v]) for v in seen if v in NGINX_VARIABLES)
    return Format(
        name=name,
        title="nginx access log, user-given log_format",
        url="https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format",
        file_type="regex",
        source="origin",
        timestamp=Timestamp(fields=(time_vars[0],), parse=_TIME_VARIABLES[time_vars[0]]),
        fields=fields,
        vocab={"cache_status": NGINX_CACHE_VOCAB},
        samples=(Sample(line="", expect={}),),
        patterns=(("log_format", "".join(pattern)),),
        null_values=("-", ""),
        origin="--nginx-format",
    )


def _strip_directive(directive: str) -> str:
    text = directive.strip().rstrip(";").strip()
    head = re.match(r"^log_format\s+\S+\s+(?:escape=\w+\s+)?", text)
    if head:
        text = text[head.end() :]
    pieces = re.findall(r"'((?:[^'\\]|\\.)*)'", text)
    if pieces and text.startswith("'"):
        text = "".join(pieces)
    return text


def _value_pattern(before: str, after: str) -> str:
    if before == '"' and after == '"':
        return r'(?:[^"\\]|\\.)*'
    if before == "[" and after == "]":
        return r"[^\]]*"
    if after and not after.isspace():
        return f"[^{re.escape(after)}\\s]*"
    return r"\S+"


def with_columns(base: Format, columns: str) -> Format:
    """`base` reading a file whose fields are `columns` (space, comma or tab separated)."""
    names = [n for n in re.split(r"[\s,]+", columns.strip()) if n]
    if not names:
        raise FlakehuntError(
            "--fields is empty; give the field names in order, e.g. 'timestamp c-ip sc-status'"
        )
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise FlakehuntError(f"--fields names {', '.join(map(repr, twice))} more than once; each field once")
    return replace(base.with_columns(names), origin="--fields")


def with_mapping(base: Format, mapping: str) -> Format:
    """
    `base` with extra vendor-key mappings `column=key,column=key`, tried before its own.

    >>> from flakehunt.formats import load_formats
    >>> with_mapping(load_formats()["json_lines"], "ts=when,client_ip=addr").timestamp.fields
    ('when',)
    """
    extra: list[FieldMap] = []
    timestamp = base.timestamp
    for item in (p.strip() for p in mapping.split(",") if p.strip()):
        column, sep, key = item.partition("=")
        column, key = column.strip(), key.strip()
        if not sep or not key:
            raise FlakehuntError(f"--map item {item!r} must be column=key, e.g. client_ip=remote")
        if column == "ts":
            timestamp = Timestamp(fields=(key,), parse="epoch_or_rfc3339")
        elif column in TARGETS:
            extra.append(FieldMap(vendor=key, to=column))
        else:
            raise FlakehuntError(f"--map names unknown column {column!r}; see 'flakehunt formats'")
    return replace(base, fields=(*extra, *base.fields), timestamp=timestamp, origin="--map")
