"""
Access logs as the real servers write them: CloudFront standard logs at the edges, nginx at origin.

CloudFront: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
(W3C extended format, tab-separated, `-` for empty, the 33 fields in the documented order, the
listed characters written as %XX). nginx: the `combined` format with the CloudFront request id
appended, escaped as nginx's default `escape=default` does (`"`, `\\` and non-printables as \\xXX).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path

CLOUDFRONT_FIELDS = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
]

CLOUDFRONT_HEADER = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_FIELDS) + "\n"

# What origin's nginx would be configured with to write `nginx_line`'s output.
NGINX_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$http_x_amz_cf_id"'
)

_CLOUDFRONT_ESCAPED = set("<>\"#%{}|\\^~[]`' ")


def cloudfront_escape(value: str | None) -> str:
    """
    Write a field value the way CloudFront does: `-` when empty, listed characters as %XX.

    >>> cloudfront_escape("Mozilla/5.0 (X11; Linux)")
    'Mozilla/5.0%20(X11;%20Linux)'
    >>> cloudfront_escape("")
    '-'
    """
    if not value:
        return "-"
    out = []
    for char in value:
        if ord(char) <= 32 or ord(char) >= 127 or char in _CLOUDFRONT_ESCAPED:
            out.extend(f"%{byte:02X}" for byte in char.encode())
        else:
            out.append(char)
    return "".join(out)


def nginx_escape(value: str | None) -> str:
    r"""
    Escape a value as nginx's `escape=default` does; `-` when empty.

    >>> nginx_escape('say "hi"')
    'say \\x22hi\\x22'
    """
    if not value:
        return "-"
    out = []
    for char in value:
        if char in '"\\' or ord(char) < 32 or ord(char) >= 127:
            out.extend(f"\\x{byte:02X}" for byte in char.encode())
        else:
            out.append(char)
    return "".join(out)


def cloudfront_line(record: Mapping[str, object]) -> str:
    """One tab-separated log line from `record`, keyed by CloudFront field name; missing is `-`."""
    values = []
    for name in CLOUDFRONT_FIELDS:
        value = record.get(name)
        values.append(cloudfront_escape(None if value is None else str(value)))
    return "\t".join(values)


def nginx_line(
    *,
    remote_addr: str,
    when: float,
    request_line: str,
    status: int,
    body_bytes: int,
    referer: str | None,
    user_agent: str | None,
    request_id: str | None,
) -> str:
    local = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(when))
    return (
        f'{remote_addr} - - [{local}] "{nginx_escape(request_line)}" {status} {body_bytes} '
        f'"{nginx_escape(referer)}" "{nginx_escape(user_agent)}" "{nginx_escape(request_id)}"'
    )


class LogFile:
    """An append-only log file shared by a server's threads; each line is flushed as written."""

    def __init__(self, path: Path, header: str = "") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8", newline="\n")
        if header and path.stat().st_size == 0:
            self._file.write(header)
            self._file.flush()

    def write(self, line: str) -> None:
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
