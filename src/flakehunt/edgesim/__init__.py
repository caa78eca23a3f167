"""
edgesim: a small but faithful CDN on loopback, for tests, benchmarks and `flakehunt demo`.

An origin serving a demo shop, N CloudFront-like caching edges on 127.0.0.2, 127.0.0.3, ...
(same port, one POP code each), CloudFront and nginx access logs, and fault knobs for every
cause flakehunt must be able to find.
"""

from flakehunt.edgesim.accesslog import CLOUDFRONT_FIELDS, NGINX_LOG_FORMAT
from flakehunt.edgesim.edge import EdgeSpec
from flakehunt.edgesim.faults import Faults
from flakehunt.edgesim.world import POPS, PRESETS, SITE_HOST, Preset, SimWorld, serve_forever

__all__ = [
    "CLOUDFRONT_FIELDS",
    "NGINX_LOG_FORMAT",
    "POPS",
    "PRESETS",
    "SITE_HOST",
    "EdgeSpec",
    "Faults",
    "Preset",
    "SimWorld",
    "serve_forever",
]
