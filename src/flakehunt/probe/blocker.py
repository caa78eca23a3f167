"""
The `blocker` dimension: decide which requests a common ad/tracker blocker would stop.

Matching is adblock-rust (Brave's engine) through the `braveblock` package, the same Adblock
Plus rule semantics uBlock Origin and Brave use. `basic` is flakehunt's small bundled list;
`easyprivacy` and `easylist` are the lists braveblock ships.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

# Playwright resource types -> adblock-rust request types.
_REQUEST_TYPES = {
    "document": "document",
    "stylesheet": "stylesheet",
    "image": "image",
    "media": "media",
    "font": "font",
    "script": "script",
    "xhr": "xmlhttprequest",
    "fetch": "xmlhttprequest",
    "websocket": "websocket",
    "ping": "ping",
}


class Blocker:
    """A filter-list matcher; `blocks(url, source_url, resource_type)` says whether to drop it."""

    def __init__(self, name: str) -> None:
        import braveblock

        self.name = name
        rules = bundled_rules() if name == "basic" else []
        self._engine = braveblock.Adblocker(
            rules=rules, include_easylist=name == "easylist", include_easyprivacy=name == "easyprivacy"
        )

    def blocks(self, url: str, source_url: str, resource_type: str) -> bool:
        """
        Whether the list blocks a request.

        >>> Blocker("basic").blocks("http://shop.test/pixel.gif?event=buy", "http://shop.test/", "image")
        True
        >>> Blocker("basic").blocks("http://shop.test/static/app.js", "http://shop.test/", "script")
        False
        """
        if resource_type == "document" and url == source_url:
            return False  # blockers never stop the page itself
        request_type = _REQUEST_TYPES.get(resource_type, "other")
        return bool(
            self._engine.check_network_urls(url=url, source_url=source_url, request_type=request_type)
        )


def bundled_rules() -> list[str]:
    text = resources.files("flakehunt.probe").joinpath("filters/flakehunt-basic.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("!")]


@cache
def get_blocker(name: str) -> Blocker | None:
    return None if name == "off" else Blocker(name)
