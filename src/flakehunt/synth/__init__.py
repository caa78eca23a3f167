"""
Seeded, realistic CloudFront + origin logs for each cause flakehunt names: the ground truth the
accuracy benchmark (`bench/accuracy.py`) and the correlate tests are judged against.

`generate(Scenario(cause, sessions, noise, seed, edges, window_hours), out_dir)` writes::

    out_dir/cdn/EFHSYNTHEXAMPL.2026-11-20-09.<8 hex>.log   CloudFront standard logs, per edge and hour
    out_dir/origin/access.log                               nginx combined + "$http_x_amz_cf_id"
    out_dir/geoip/GeoIP2-City.mmdb, GeoLite2-ASN.mmdb       the client address plan
    out_dir/truth.json, scenario.json

Traffic: shop visitors from 12 countries (198.18.0.0/15, a /24 per ISP and city) reach mostly
their nearest of up to 12 real CloudFront POPs (80 %), else the second nearest (12 %) or any
(8 %), so edge and country differ. A session is GET /checkout (Miss), /static/vendor.js and
/static/app.js (cached: Hit, Miss when evicted or invalidated, RefreshHit after the 1 h TTL),
GET /api/v2/cart (Miss), then the pixel GET /pixel.gif?event=purchase&... (Miss) with
probability `1 - noise`. A failed request stops what depends on it. Browsers are a weighted mix
of Chrome, Edge, Firefox, Safari desktop and mobile, Samsung Internet (`world.BROWSERS`); 12 % of
visitors are on a slow network. The US mobile carrier's visitors share four CGNAT addresses
(203.0.113.10-13). About 3 % of sessions are crawlers (Googlebot, bingbot, AhrefsBot from
198.51.100.0/24): they obey robots.txt, so they fetch /robots.txt, / and the scripts but never
/checkout, hence never count as a checkout without its pixel. Label failures with `EXPECT`:
``path = '/checkout' -> path LIKE '/pixel.gif%' within 30s``.

Causes, their mechanism and magnitude (`EFFECTS`), and what `truth["implicates"]` names:

=================  =================================================================  ======================
cause              what happens                                                       implicates
=================  =================================================================  ======================
stale_cache        deploy v41 -> v42 of app.js at the window start with an             edge_pop, path
                   invalidation that fails at one edge: it keeps serving the old
                   length (48213 vs 48790 bytes); 85 % of its pixels are lost
edge_fault         one edge answers 30 % of all requests with 502 (60 %) / 504,       edge_pop
                   result type Error, nothing reaches origin
origin_fault       20 % of requests that reach origin get 503, at every edge          status=503, source
browser_specific   one ua_family (Firefox, Safari, Edge or Mobile Safari) loses 70 %  ua_family
                   of its pixels
geo_specific       one country's visitors lose 70 % of their pixels, whatever edge    geo_country
deploy_regression  app.js v42 everywhere from mid-window (event "deploy v42"); 35 %   path (+ details.onset)
                   of sessions with v42 lose the pixel
network_timing     slow sessions (app.js time-taken ~2-8 s vs ~0.1 s) lose 80 %       path, time_taken_ms
rate_limited       3 of the carrier's 4 CGNAT addresses get 429 once over a limit     asn (+ client_ips)
                   per 5 min (half their mean load per window), so ~half refused
client_blocking    a content blocker drops the pixel before it leaves the browser     device_class=desktop
                   (desktop 15-50 %, most on Firefox; mobile 2-25 %): every other
                   request is fine. Weakly identifiable from logs alone: it looks
                   like visitors who did not buy, told apart only by its
                   concentration on desktop browsers
none               noise only                                                          (nothing)
=================  =================================================================  ======================

The target (edge, family, country, addresses) is drawn from (seed, cause); the visitors from
(seed, sessions) alone, so two causes with the same seed share their visitors.

>>> Scenario("stale_cache", sessions=500, seed=3).name
'stale_cache-s500-n0.03-seed3'
"""

from flakehunt.synth.scenario import EXPECT, GeneratedCase, Scenario, generate, read_case
from flakehunt.synth.traffic import CAUSES, EFFECTS

__all__ = ["CAUSES", "EFFECTS", "EXPECT", "GeneratedCase", "Scenario", "generate", "read_case"]
