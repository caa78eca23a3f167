"""
The demo shop the simulated origin serves: two pages, two scripts, a cart API and a pixel.

The story it encodes is the seed story of DESIGN.md. Version 1 of `/static/app.js` reads the
cart from `/api/v1/cart`; the version 2 deploy replaces that endpoint with `/api/v2/cart` and
ships an app.js that uses it. An edge still serving version 1 after the deploy sends browsers
to an endpoint that is gone, so the conversion pixel never fires there.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from email.utils import formatdate

from flakehunt.edgesim.faults import Faults

ASSET_MAX_AGE = 86_400  # long-lived scripts: what makes a missed invalidation hurt
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Release:
    """What a deploy put on origin: the app.js version and when it went live."""

    version: int
    deployed_at: float  # unix seconds


def _page(title: str, event: str, body: str, *, country: str, faults: Faults) -> str:
    # A real-world regression: someone switched the scripts from `defer` (run in order) to
    # `async` (run as they arrive). app.js needs vendor.js to have run first.
    loading = "async" if faults.race_latency_ms > 0 else "defer"
    config = {"country": country, "consentRequired": country in faults.geo_countries}
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · Flakehunt demo shop</title>
<link rel="icon" href="/favicon.ico">
<script>window.SHOP_CONFIG = {json.dumps(config)};</script>
<script src="/static/vendor.js" {loading}></script>
<script src="/static/app.js" {loading}></script>
</head>
<body data-event="{event}">
<header><a href="/">Flakehunt demo shop</a> · <a id="checkout-link" href="/checkout">Checkout</a></header>
<main>{body}</main>
</body>
</html>
"""


def app_js(version: int, faults: Faults) -> str:
    """The shop's script, as released in `version`, with any browser-specific fault compiled in."""
    cart_api = f"/api/v{version}/cart"
    # Each release ships more than a version bump, so its size differs too (CDN logs only
    # record sizes, not ETags).
    changes = "".join(
        f"  /* release {n}: checkout improvements, part {n} */\n" for n in range(2, version + 1)
    )
    platform_line = "  var platform = (navigator.userAgentData || {}).platform || navigator.platform;\n"
    platform_line += (
        # scrollIntoViewIfNeeded exists in Chromium (and Safari), not in Firefox: a TypeError there.
        '  (document.getElementById("order") || document.body).scrollIntoViewIfNeeded();\n'
        if faults.browser_error
        else '  var target = document.getElementById("order") || document.body;\n'
        "  if (target.scrollIntoViewIfNeeded) { target.scrollIntoViewIfNeeded(); }\n"
    )
    return f"""/* Flakehunt demo shop, app.js release {version} */
(function () {{
  "use strict";
  var RELEASE = "{version}";
  var config = window.SHOP_CONFIG || {{}};
{changes}{platform_line}  function firePixel(total) {{
    var event = document.body.dataset.event || "view";
    var img = new Image();
    img.src = "/pixel.gif?event=" + encodeURIComponent(event) + "&release=" + RELEASE +
      "&total=" + encodeURIComponent(total) + "&platform=" + encodeURIComponent(platform) +
      "&t=" + Date.now();
    window.__pixelFired = true;
  }}
  if (!window.ShopVendor) {{
    console.error("app.js: ShopVendor is not loaded yet; conversion tracking skipped");
    return;
  }}
  if (config.consentRequired) {{
    // Waits for a consent banner that this market never shows.
    window.addEventListener("shop:consent", function () {{ firePixel("consent"); }});
    return;
  }}
  fetch("{cart_api}").then(function (response) {{
    if (!response.ok) {{ throw new Error("cart request failed: " + response.status); }}
    return response.json();
  }}).then(function (cart) {{
    var order = document.getElementById("order");
    if (order) {{ order.textContent = "Total: " + ShopVendor.formatPrice(cart.total); }}
    firePixel(cart.total);
  }});
}})();
"""


VENDOR_JS = """/* Flakehunt demo shop, vendor.js */
window.ShopVendor = {
  formatPrice: function (cents) { return (cents / 100).toFixed(2) + " EUR"; }
};
"""


def _asset(body: str, content_type: str, release: Release) -> Response:
    data = body.encode()
    etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
    return Response(
        200,
        {
            "Content-Type": content_type,
            "Cache-Control": f"public, max-age={ASSET_MAX_AGE}",
            "ETag": etag,
            "Last-Modified": formatdate(release.deployed_at, usegmt=True),
        },
        data,
    )


def _no_store(status: int, content_type: str, data: bytes) -> Response:
    return Response(status, {"Content-Type": content_type, "Cache-Control": "no-store"}, data)


def render(path: str, *, release: Release, country: str, faults: Faults) -> Response:
    """The origin's answer for `path` (no query), for a viewer in `country`."""
    html_headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "max-age=0"}
    if path == "/":
        body = '<h1>Welcome</h1><p>Today only: everything.</p><a href="/checkout">Buy now</a>'
        return Response(
            200, html_headers, _page("Home", "view", body, country=country, faults=faults).encode()
        )
    if path == "/checkout":
        body = '<h1>Checkout</h1><p id="order">Loading your order...</p><button id="pay">Pay</button>'
        page = _page("Checkout", "purchase", body, country=country, faults=faults)
        return Response(200, html_headers, page.encode())
    if path == "/static/app.js":
        return _asset(app_js(release.version, faults), "application/javascript", release)
    if path == "/static/vendor.js":
        return _asset(VENDOR_JS, "application/javascript", release)
    if path == f"/api/v{release.version}/cart":
        cart = {"items": [{"sku": "FH-1", "quantity": 1, "price": 4200}], "total": 4200}
        return _no_store(200, "application/json", json.dumps(cart).encode())
    if path == "/pixel.gif":
        return _no_store(200, "image/gif", PIXEL_GIF)
    if path == "/favicon.ico":
        return Response(200, {"Content-Type": "image/gif", "Cache-Control": "max-age=86400"}, PIXEL_GIF)
    return _no_store(404, "text/plain; charset=utf-8", b"not found\n")
