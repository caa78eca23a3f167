"""
The synthetic shop's world: edge POPs, client countries and networks, browsers, the site's files.

Every address is reserved for documentation or benchmarking, never a real host's:
clients live in 198.18.0.0/15 (RFC 2544 benchmarking), split into per-country /24s; a mobile
carrier's CGNAT egress in 203.0.113.0/24 (TEST-NET-3); crawlers in 198.51.100.0/24 (TEST-NET-2);
the CDN's edge egress addresses in 192.0.2.0/24 (TEST-NET-1). AS numbers are the documentation
ranges 64496-64511 and 65536-65551 (RFC 5398). POP codes are real CloudFront codes (IATA airport
code, number, `-C1`), so POP enrichment (airport code to city) works on them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache

CLIENT_NETWORK = ipaddress.ip_network("198.18.0.0/15")
CARRIER_NETWORK = ipaddress.ip_network("203.0.113.0/24")
CRAWLER_NETWORK = ipaddress.ip_network("198.51.100.0/24")
EDGE_NETWORK = ipaddress.ip_network("192.0.2.0/24")
RESERVED_NETWORKS = (CLIENT_NETWORK, CARRIER_NETWORK, CRAWLER_NETWORK, EDGE_NETWORK)
DOCUMENTATION_ASNS = (*range(64496, 64512), *range(65536, 65552))

SITE_HOST = "shop.example.com"
DISTRIBUTION_ID = "EFHSYNTHEXAMPL"
DISTRIBUTION_DOMAIN = "d2fh7synthex01.cloudfront.net"


@dataclass(frozen=True)
class Pop:
    """A CloudFront edge location and the address it uses towards origin."""

    code: str
    country: str
    edge_ip: str


# The order is the order `Scenario.edges` takes them in.
POPS = (
    Pop("FRA56-C1", "DE", "192.0.2.11"),
    Pop("LHR61-C1", "GB", "192.0.2.12"),
    Pop("IAD89-C1", "US", "192.0.2.13"),
    Pop("CDG50-C1", "FR", "192.0.2.14"),
    Pop("NRT57-C1", "JP", "192.0.2.15"),
    Pop("GRU3-C1", "BR", "192.0.2.16"),
    Pop("SFO53-C1", "US", "192.0.2.17"),
    Pop("SIN2-C1", "SG", "192.0.2.18"),
    Pop("AMS58-C1", "NL", "192.0.2.19"),
    Pop("BOM78-C1", "IN", "192.0.2.20"),
    Pop("SYD62-C1", "AU", "192.0.2.21"),
    Pop("WAW51-C1", "PL", "192.0.2.22"),
)


@dataclass(frozen=True)
class City:
    name: str
    subdivision: str  # ISO 3166-2 subdivision code without the country prefix
    subdivision_name: str
    lat: float
    lon: float
    time_zone: str
    pops: tuple[str, ...]  # nearest first, by IATA prefix of the POP code


@dataclass(frozen=True)
class Country:
    iso: str
    name: str
    continent: str
    weight: float  # share of visitors before normalisation
    isps: tuple[str, ...]
    cities: tuple[City, ...]


COUNTRIES = (
    Country("US", "United States", "NA", 0.22, ("Example Cable US", "Example Fiber US"), (
        City("Ashburn", "VA", "Virginia", 39.04, -77.49, "America/New_York", ("IAD", "SFO")),
        City("San Jose", "CA", "California", 37.34, -121.89, "America/Los_Angeles", ("SFO", "IAD")),
    )),
    Country("DE", "Germany", "EU", 0.14, ("Example Telekom DE", "Example Kabel DE"), (
        City("Frankfurt am Main", "HE", "Hesse", 50.11, 8.68, "Europe/Berlin", ("FRA", "AMS", "WAW", "CDG")),
        City("Berlin", "BE", "Berlin", 52.52, 13.40, "Europe/Berlin", ("FRA", "WAW", "AMS", "LHR")),
    )),
    Country("GB", "United Kingdom", "EU", 0.10, ("Example Broadband UK", "Example Fibre UK"), (
        City("London", "ENG", "England", 51.51, -0.13, "Europe/London", ("LHR", "AMS", "CDG", "FRA")),
        City("Manchester", "ENG", "England", 53.48, -2.24, "Europe/London", ("LHR", "AMS", "FRA")),
    )),
    Country("FR", "France", "EU", 0.08, ("Example Telecom FR", "Example Box FR"), (
        City("Paris", "IDF", "Île-de-France", 48.86, 2.35, "Europe/Paris", ("CDG", "FRA", "LHR")),
        City("Lyon", "ARA", "Auvergne-Rhône-Alpes", 45.76, 4.84, "Europe/Paris", ("CDG", "FRA", "AMS")),
    )),
    Country("BR", "Brazil", "SA", 0.08, ("Example Telecom BR", "Example Net BR"), (
        City("São Paulo", "SP", "São Paulo", -23.55, -46.63, "America/Sao_Paulo", ("GRU", "IAD")),
        City("Rio de Janeiro", "RJ", "Rio de Janeiro", -22.91, -43.17, "America/Sao_Paulo", ("GRU", "IAD")),
    )),
    Country("JP", "Japan", "AS", 0.07, ("Example Hikari JP", "Example Mobile JP"), (
        City("Tokyo", "13", "Tokyo", 35.68, 139.69, "Asia/Tokyo", ("NRT", "SIN", "SFO")),
        City("Osaka", "27", "Osaka", 34.69, 135.50, "Asia/Tokyo", ("NRT", "SIN")),
    )),
    Country("IN", "India", "AS", 0.06, ("Example Jio IN", "Example Broadband IN"), (
        City("Mumbai", "MH", "Maharashtra", 19.08, 72.88, "Asia/Kolkata", ("BOM", "SIN")),
        City("Bengaluru", "KA", "Karnataka", 12.97, 77.59, "Asia/Kolkata", ("BOM", "SIN")),
    )),
    Country("CA", "Canada", "NA", 0.05, ("Example Cable CA", "Example Telecom CA"), (
        City("Toronto", "ON", "Ontario", 43.65, -79.38, "America/Toronto", ("IAD", "SFO")),
        City("Vancouver", "BC", "British Columbia", 49.28, -123.12, "America/Vancouver", ("SFO", "IAD")),
    )),
    Country("NL", "Netherlands", "EU", 0.05, ("Example Glasvezel NL", "Example Kabel NL"), (
        City("Amsterdam", "NH", "North Holland", 52.37, 4.90, "Europe/Amsterdam", ("AMS", "FRA", "LHR")),
        City("Rotterdam", "ZH", "South Holland", 51.92, 4.48, "Europe/Amsterdam", ("AMS", "LHR", "FRA")),
    )),
    Country("PL", "Poland", "EU", 0.05, ("Example Telekom PL", "Example Net PL"), (
        City("Warsaw", "14", "Mazovia", 52.23, 21.01, "Europe/Warsaw", ("WAW", "FRA", "AMS")),
        City("Kraków", "12", "Lesser Poland", 50.06, 19.94, "Europe/Warsaw", ("WAW", "FRA")),
    )),
    Country("AU", "Australia", "OC", 0.05, ("Example Telstra AU", "Example NBN AU"), (
        City("Sydney", "NSW", "New South Wales", -33.87, 151.21, "Australia/Sydney", ("SYD", "SIN", "SFO")),
        City("Melbourne", "VIC", "Victoria", -37.81, 144.96, "Australia/Melbourne", ("SYD", "SIN")),
    )),
    Country("SG", "Singapore", "AS", 0.04, ("Example Fibre SG", "Example Mobile SG"), (
        City("Singapore", "01", "Central Singapore", 1.29, 103.85, "Asia/Singapore", ("SIN", "NRT", "BOM")),
    )),
)  # fmt: skip

CONTINENT_NAMES = {
    "EU": "Europe",
    "NA": "North America",
    "SA": "South America",
    "AS": "Asia",
    "OC": "Oceania",
}

# The US mobile carrier's customers share a handful of CGNAT addresses: the clients a per-IP
# rate limit hits first.
CARRIER_COUNTRY = "US"
CARRIER_NAME = "Example Mobile US (CGNAT)"
CARRIER_IPS = tuple(f"203.0.113.{host}" for host in range(10, 14))
CARRIER_SHARE = 0.7  # of the carrier country's mobile and tablet visitors
CRAWLER_NAME = "Example Crawler Hosting"
CRAWLER_COUNTRY = "US"
CDN_NAME = "Example CDN edge egress"


@dataclass(frozen=True)
class Browser:
    """A user agent string with what ua-parser says about it and how its users behave."""

    user_agent: str
    family: str  # ua-parser's family, the `ua_family` column after ingest
    device_class: str  # desktop, mobile, tablet, bot
    share: float
    blocker_share: float  # visitors running a content blocker that drops tracking pixels


_WIN = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_ANDROID = "Linux; Android 10; K"
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"


def _chrome(platform: str, version: str, suffix: str = "", mobile: bool = False) -> str:
    tail = "Mobile Safari/537.36" if mobile else "Safari/537.36"
    return f"Mozilla/5.0 ({platform}) {_BLINK} Chrome/{version} {tail}{suffix}"


def _firefox(platform: str, version: int, gecko: str = "20100101") -> str:
    return f"Mozilla/5.0 ({platform}; rv:{version}.0) Gecko/{gecko} Firefox/{version}.0"


def _safari(platform: str, version: str, mobile: str = "") -> str:
    if mobile:
        return f"Mozilla/5.0 ({platform}) {_WEBKIT} Version/{version} Mobile/{mobile} Safari/604.1"
    return f"Mozilla/5.0 ({platform}) {_WEBKIT} Version/{version} Safari/605.1.15"


def _iphone(ios: str) -> str:
    return f"iPhone; CPU iPhone OS {ios} like Mac OS X"


_SAMSUNG = _chrome("Linux; Android 14; SAMSUNG SM-S911B", "122.0.0.0", mobile=True).replace(
    " Chrome/", " SamsungBrowser/26.0 Chrome/"
)
_CRIOS = f"Mozilla/5.0 ({_iphone('18_1')}) {_WEBKIT} CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"

BROWSERS = (
    Browser(_chrome(_WIN, "131.0.0.0"), "Chrome", "desktop", 0.13, 0.30),
    Browser(_chrome(_WIN, "130.0.0.0"), "Chrome", "desktop", 0.06, 0.30),
    Browser(_chrome(_WIN, "129.0.0.0"), "Chrome", "desktop", 0.03, 0.30),
    Browser(_chrome(_MAC, "131.0.0.0"), "Chrome", "desktop", 0.07, 0.30),
    Browser(_chrome("X11; Linux x86_64", "131.0.0.0"), "Chrome", "desktop", 0.01, 0.35),
    Browser(_chrome(_WIN, "131.0.0.0", " Edg/131.0.0.0"), "Edge", "desktop", 0.05, 0.20),
    Browser(_chrome(_WIN, "130.0.0.0", " Edg/130.0.2849.80"), "Edge", "desktop", 0.02, 0.20),
    Browser(_firefox(_WIN, 132), "Firefox", "desktop", 0.04, 0.45),
    Browser(_firefox(_WIN, 131), "Firefox", "desktop", 0.01, 0.45),
    Browser(_firefox("X11; Linux x86_64", 132), "Firefox", "desktop", 0.01, 0.50),
    Browser(_firefox("Macintosh; Intel Mac OS X 10.15", 132), "Firefox", "desktop", 0.01, 0.45),
    Browser(_safari(_MAC, "18.1"), "Safari", "desktop", 0.05, 0.15),
    Browser(_safari(_MAC, "17.6"), "Safari", "desktop", 0.02, 0.15),
    Browser(_safari(_iphone("18_1"), "18.1", "15E148"), "Mobile Safari", "mobile", 0.11, 0.04),
    Browser(_safari(_iphone("17_6_1"), "17.6", "15E148"), "Mobile Safari", "mobile", 0.06, 0.04),
    Browser(
        _safari("iPad; CPU OS 18_1 like Mac OS X", "18.1", "15E148"), "Mobile Safari", "tablet", 0.03, 0.04
    ),
    Browser(_chrome(_ANDROID, "131.0.0.0", mobile=True), "Chrome Mobile", "mobile", 0.12, 0.02),
    Browser(_chrome(_ANDROID, "130.0.0.0", mobile=True), "Chrome Mobile", "mobile", 0.04, 0.02),
    Browser(_CRIOS, "Chrome Mobile iOS", "mobile", 0.02, 0.03),
    Browser(_SAMSUNG, "Samsung Internet", "mobile", 0.04, 0.10),
    Browser(_firefox("Android 14; Mobile", 132, gecko="132.0"), "Firefox Mobile", "mobile", 0.01, 0.25),
)

# Crawlers honour robots.txt, which disallows /checkout: they fetch /robots.txt, the home page and
# (the rendering ones) the scripts, never the checkout, so they are never an anchor of the
# expected sequence and never count as a missing pixel.
_BINGBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
)
_GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
_AHREFSBOT = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
BOTS = (
    Browser(_GOOGLEBOT, "Googlebot", "bot", 0.5, 0.0),
    Browser(_BINGBOT, "bingbot", "bot", 0.3, 0.0),
    Browser(_AHREFSBOT, "AhrefsBot", "bot", 0.2, 0.0),
)
RENDERING_BOTS = ("Googlebot", "bingbot")  # these also fetch the scripts
BOT_SHARE = 0.03  # of all sessions


@dataclass(frozen=True)
class Resource:
    path: str
    content_type: str
    cacheable: bool
    size: tuple[int, int]  # body bytes, low and high (equal for a fixed file)
    declares_length: bool  # False: chunked, CloudFront logs sc-content-len as `-`


# Path codes index this tuple.
CHECKOUT, VENDOR_JS, APP_JS, CART, PIXEL, HOME, ROBOTS = range(7)
RESOURCES = (
    Resource("/checkout", "text/html; charset=utf-8", False, (17_000, 23_000), False),
    Resource("/static/vendor.js", "application/javascript", True, (91_342, 91_342), True),
    Resource("/static/app.js", "application/javascript", True, (48_790, 48_790), True),
    Resource("/api/v2/cart", "application/json", False, (300, 1_200), True),
    Resource("/pixel.gif", "image/gif", False, (43, 43), True),
    Resource("/", "text/html; charset=utf-8", False, (12_000, 15_000), False),
    Resource("/robots.txt", "text/plain", False, (68, 68), True),
)
APP_JS_VERSIONS = {"v41": 48_213, "v42": 48_790}  # content length identifies the version


@dataclass(frozen=True)
class Subnet:
    """One /24 of the client plan, as the GeoIP databases describe it."""

    network: ipaddress.IPv4Network
    country: Country
    city: City
    asn: int
    as_org: str


def documentation_asn(index: int) -> int:
    """
    The `index`-th AS number reserved for documentation (RFC 5398).

    >>> documentation_asn(0), documentation_asn(16)
    (64496, 65536)
    """
    return DOCUMENTATION_ASNS[index]


def carrier_asn() -> int:
    return documentation_asn(2 * len(COUNTRIES))


def crawler_asn() -> int:
    return documentation_asn(2 * len(COUNTRIES) + 1)


def cdn_asn() -> int:
    return documentation_asn(2 * len(COUNTRIES) + 2)


@cache
def client_subnets() -> tuple[tuple[Subnet, ...], ...]:
    """
    The per-country /24s of 198.18.0.0/15, allocated in proportion to each country's weight;
    the /24s of one country alternate between its ISPs and its cities.
    """
    blocks = list(CLIENT_NETWORK.subnets(new_prefix=24))
    total = sum(country.weight for country in COUNTRIES)
    usable = len(blocks) - 16  # a little room left unallocated, as real plans have
    plan, start = [], 0
    for index, country in enumerate(COUNTRIES):
        count = max(4, round(country.weight / total * usable))
        subnets = []
        for offset, network in enumerate(blocks[start : start + count]):
            isp = offset % len(country.isps)
            subnets.append(
                Subnet(
                    network=network,
                    country=country,
                    city=country.cities[(offset // len(country.isps)) % len(country.cities)],
                    asn=documentation_asn(2 * index + isp),
                    as_org=country.isps[isp],
                )
            )
        plan.append(tuple(subnets))
        start += count
    return tuple(plan)
