"""
Vectorised log writers: CloudFront standard logs at the edges, nginx at origin.

CloudFront: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
(W3C extended format: `#Version` and `#Fields` header, the 33 tab-separated fields in the
documented order, `-` for empty, control characters, space and ``<>"#%{}|\\^~[]`'`` written as %XX,
UTC times, lines not in time order, one file per edge and hour named like S3 delivery names
them). nginx: the `combined` format plus the CloudFront request id as a last quoted field
(`NGINX_LOG_FORMAT`), one line per request that reached origin (misses, revalidations answered
304, origin's own errors), in the order nginx finished them; its client address is the edge.

This writer shares no code with `flakehunt.edgesim` on purpose: the benchmark must not inherit
that simulator's mistakes.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
from pathlib import Path

import numpy as np
import polars as pl

# The documented formats are facts, shared with edgesim's writer; the traffic model is not.
from flakehunt.edgesim.accesslog import (
    CLOUDFRONT_HEADER,
    cloudfront_escape,
)
from flakehunt.synth import world
from flakehunt.synth.traffic import DETAILED_RESULTS, RESULT_NAMES, WINDOW_START, Traffic
from flakehunt.synth.world import APP_JS, CHECKOUT, PIXEL, VENDOR_JS

HTTP_VERSIONS = ("HTTP/1.1", "HTTP/2.0", "HTTP/3.0")
TLS = (
    ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    ("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"),
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
)
ORIGIN_USER_AGENT = "Amazon CloudFront"  # what origin sees when the cache policy does not forward it


def request_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """
    `n` CloudFront-style request ids: 40 random bytes in URL-safe base64, 56 characters ending `==`.

    >>> request_ids(np.random.default_rng(0), 2).str.len_chars().to_list()
    [56, 56]
    """
    body = base64.urlsafe_b64encode(rng.bytes(39 * n))  # 39 bytes encode to 52 characters
    heads = pl.Series(np.frombuffer(body, dtype="S52")).cast(pl.String)
    tails = _lookup(
        [base64.urlsafe_b64encode(bytes([b])).decode() for b in range(256)], rng.integers(0, 256, n)
    )
    return (heads + tails).alias("x-edge-request-id")


def _lookup(table, index: np.ndarray) -> pl.Series:
    """`table[index]` for a small table of strings, without a Python loop over `index`."""
    return pl.Series(list(table), dtype=pl.String).gather(np.asarray(index, dtype=np.int64))


def _seconds_text(seconds: pl.Expr) -> pl.Expr:
    """Seconds with exactly three decimals, as CloudFront writes time-taken."""
    ms = (seconds * 1000).round(0).cast(pl.Int64)
    return pl.format("{}.{}", ms // 1000, (ms % 1000).cast(pl.String).str.zfill(3))


def _dotted_quad(address: pl.Expr) -> pl.Expr:
    return pl.format(
        "{}.{}.{}.{}", *[((address // (1 << shift)) % 256).cast(pl.Int64) for shift in (24, 16, 8, 0)]
    )


def requests_frame(traffic: Traffic, rng: np.random.Generator) -> pl.DataFrame:
    """One row per CDN request with the CloudFront fields and what origin needs, as text."""
    c = traffic.columns
    n = len(c["session"])
    agents = (*world.BROWSERS, *world.BOTS)
    kind = c["kind"]
    is_error = c["status"] >= 400
    referers = [f"https://{world.SITE_HOST}/{page}" for page in ("cart", "checkout")] + ["-"]
    referer = np.where(kind == CHECKOUT, 0, np.where(np.isin(kind, (world.HOME, world.ROBOTS)), 2, 1))
    started = WINDOW_START.timestamp() + c["start"]
    frame = pl.DataFrame(
        {
            "end_us": ((started + c["time_taken"]) * 1e6).astype(np.int64),
            "origin_us": ((started + c["ttfb"]) * 1e6).astype(np.int64),
            "x-edge-location": _lookup([p.code for p in traffic.edges], c["edge"]),
            "edge_ip": _lookup([p.edge_ip for p in traffic.edges], c["edge"]),
            "sc-bytes": c["bytes_sent"],
            "_ip": c["client_ip"].astype(np.int64),
            "cs-uri-stem": _lookup([r.path for r in world.RESOURCES], kind),
            "sc-status": c["status"],
            "referer": _lookup(referers, referer),
            "user_agent": _lookup([a.user_agent for a in agents], c["agent"]),
            "cs(User-Agent)": _lookup([cloudfront_escape(a.user_agent) for a in agents], c["agent"]),
            "_pixel": kind == PIXEL,
            "_order": c["order_id"],
            "_cents": c["cents"],
            "_cb": (c["start"] * 1000).astype(np.int64)
            + int(WINDOW_START.timestamp() * 1000)
            + c["cache_buster"],
            "x-edge-result-type": _lookup(RESULT_NAMES, c["result"]),
            "x-edge-request-id": request_ids(rng, n),
            "cs-bytes": 180
            + np.array([len(a.user_agent) for a in agents])[c["agent"]]
            + (kind == PIXEL) * 96,
            "time-taken": c["time_taken"],
            "ssl-protocol": _lookup([t[0] for t in TLS], c["tls"]),
            "ssl-cipher": _lookup([t[1] for t in TLS], c["tls"]),
            "cs-protocol-version": _lookup(HTTP_VERSIONS, c["http"]),
            "c-port": c["port"],
            "time-to-first-byte": c["ttfb"],
            "x-edge-detailed-result-type": _lookup(DETAILED_RESULTS, c["detail"]),
            "sc-content-type": _lookup(
                [r.content_type for r in world.RESOURCES] + ["text/html"],
                np.where(is_error, len(world.RESOURCES), kind),
            ),
            "sc-content-len": np.where(
                np.array([r.declares_length for r in world.RESOURCES])[kind] | is_error, c["body_sent"], -1
            ),
            "origin_status": c["origin_status"],
            "body_sent": c["body_sent"],
            "cacheable": np.isin(kind, (VENDOR_JS, APP_JS)),
            "shuffle": rng.uniform(0.0, 90.0, n),
        }
    )
    pixel_query = pl.format(
        "event=purchase&order={}&value={}.{}&currency=EUR&cb={}",
        pl.col("_order"),
        pl.col("_cents") // 100,
        (pl.col("_cents") % 100).cast(pl.String).str.zfill(2),
        pl.col("_cb"),
    )
    return frame.with_columns(
        pl.from_epoch("end_us", time_unit="us").dt.replace_time_zone("UTC").alias("_end"),
        pl.from_epoch("origin_us", time_unit="us").dt.replace_time_zone("UTC").alias("_origin"),
        _dotted_quad(pl.col("_ip")).alias("c-ip"),
        pl.when(pl.col("_pixel")).then(pixel_query).otherwise(pl.lit("-")).alias("cs-uri-query"),
    ).drop("_ip", "_pixel", "_order", "_cents", "_cb")


def cloudfront_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The 33 CloudFront fields as text, in the documented order."""
    dash = pl.lit("-")
    escaped_content_type = pl.col("sc-content-type").str.replace_all(" ", "%20", literal=True)
    return frame.select(
        pl.col("_end").dt.strftime("%Y-%m-%d").alias("date"),
        pl.col("_end").dt.strftime("%H:%M:%S").alias("time"),
        pl.col("x-edge-location"),
        pl.col("sc-bytes").cast(pl.String),
        pl.col("c-ip"),
        pl.lit("GET").alias("cs-method"),
        pl.lit(world.DISTRIBUTION_DOMAIN).alias("cs(Host)"),
        pl.col("cs-uri-stem"),
        pl.col("sc-status").cast(pl.String),
        pl.col("referer").alias("cs(Referer)"),
        pl.col("cs(User-Agent)"),
        pl.col("cs-uri-query"),
        dash.alias("cs(Cookie)"),
        pl.col("x-edge-result-type"),
        pl.col("x-edge-request-id"),
        pl.lit(world.SITE_HOST).alias("x-host-header"),
        pl.lit("https").alias("cs-protocol"),
        pl.col("cs-bytes").cast(pl.String),
        _seconds_text(pl.col("time-taken")).alias("time-taken"),
        dash.alias("x-forwarded-for"),
        pl.col("ssl-protocol"),
        pl.col("ssl-cipher"),
        pl.col("x-edge-result-type").alias("x-edge-response-result-type"),
        pl.col("cs-protocol-version"),
        dash.alias("fle-status"),
        dash.alias("fle-encrypted-fields"),
        pl.col("c-port").cast(pl.String),
        _seconds_text(pl.col("time-to-first-byte")).alias("time-to-first-byte"),
        pl.col("x-edge-detailed-result-type"),
        escaped_content_type.alias("sc-content-type"),
        pl.when(pl.col("sc-content-len") >= 0)
        .then(pl.col("sc-content-len").cast(pl.String))
        .otherwise(dash)
        .alias("sc-content-len"),
        dash.alias("sc-range-start"),
        dash.alias("sc-range-end"),
    )


def write_cloudfront(
    frame: pl.DataFrame, cdn_dir: Path, rng: np.random.Generator, *, gzip: bool
) -> list[Path]:
    """One file per edge and hour (of the time the edge finished), lines roughly but not fully in order."""
    cdn_dir.mkdir(parents=True, exist_ok=True)
    keyed = (
        cloudfront_columns(frame)
        .with_columns(
            pl.concat_str(
                frame["x-edge-location"], frame["_end"].dt.strftime("%Y-%m-%d-%H"), separator=" "
            ).alias("_file"),
            (frame["end_us"] + (frame["shuffle"] * 1e6).cast(pl.Int64)).alias("_order"),
        )
        .sort("_file", "_order")
    )
    paths = []
    for part in keyed.partition_by("_file", maintain_order=True):
        hour = part["_file"][0].split(" ")[1]
        name = f"{world.DISTRIBUTION_ID}.{hour}.{int(rng.integers(0, 2**32)):08x}"
        path = cdn_dir / (name + (".gz" if gzip else ".log"))
        body = part.drop("_file", "_order").write_csv(
            separator="\t", include_header=False, quote_style="never", line_terminator="\n"
        )
        text = (CLOUDFRONT_HEADER + body).encode()
        path.write_bytes(gzip_module.compress(text, mtime=0) if gzip else text)
        paths.append(path)
    return paths


def _nginx_quoted(column: str) -> pl.Expr:
    """nginx's `escape=default`: `"` and `\\` as \\xXX; our values hold no other specials."""
    return (
        pl.col(column)
        .str.replace_all("\\", "\\x5C", literal=True)
        .str.replace_all('"', "\\x22", literal=True)
    )


def write_nginx(frame: pl.DataFrame, path: Path) -> int:
    """The origin's access log: requests that reached origin, with the edge as client address."""
    path.parent.mkdir(parents=True, exist_ok=True)
    reached = frame.filter(pl.col("origin_status") > 0).sort("origin_us")
    target = (
        pl.when(pl.col("cs-uri-query") == "-")
        .then(pl.col("cs-uri-stem"))
        .otherwise(pl.format("{}?{}", pl.col("cs-uri-stem"), pl.col("cs-uri-query")))
    )
    # Scripts are cached by a policy that forwards neither User-Agent nor Referer.
    user_agent = pl.when(pl.col("cacheable")).then(pl.lit(ORIGIN_USER_AGENT)).otherwise(pl.col("user_agent"))
    referer = pl.when(pl.col("cacheable")).then(pl.lit("-")).otherwise(pl.col("referer"))
    body = pl.when(pl.col("origin_status") == 304).then(0).otherwise(pl.col("body_sent"))
    lines = reached.with_columns(
        _nginx_quoted("user_agent").alias("user_agent"), _nginx_quoted("referer").alias("referer")
    ).select(
        pl.format(
            '{} - - [{}] "GET {} HTTP/1.1" {} {} "{}" "{}" "{}"',
            pl.col("edge_ip"),
            pl.col("_origin").dt.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            target,
            pl.col("origin_status"),
            body,
            referer,
            user_agent,
            pl.col("x-edge-request-id"),
        ).alias("line")
    )
    lines.write_csv(path, include_header=False, quote_style="never", line_terminator="\n")
    return reached.height
