"""
Keep secrets out of the case: every text a run stores passes through a `Scrubber` first.

A spec fills login fields from environment variables (`fill: {selector: ..., secret: NAME}`).
The value then lives in the page, and the page may send it on (a form post, a query string, a
console message), so HARs, exchanges and run records are scrubbed of it, in the encodings it
takes on the way (as typed, URL-encoded, JSON-escaped).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, quote_plus

T = TypeVar("T")


class Scrubber:
    """
    Replace secret values with `[secret $NAME]` in strings, nested values and files.

    >>> Scrubber({"SHOP_PASSWORD": "hunter 2"}).text("q=hunter+2&p=hunter%202")
    'q=[secret $SHOP_PASSWORD]&p=[secret $SHOP_PASSWORD]'
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        pairs: dict[str, str] = {}
        for name, value in secrets.items():
            if not value:
                continue
            for form in (value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]):
                pairs.setdefault(form, f"[secret ${name}]")
        # Longest first, so that a value containing another secret is replaced whole.
        self._pairs = sorted(pairs.items(), key=lambda pair: -len(pair[0]))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def text(self, value: str) -> str:
        for secret, mark in self._pairs:
            if secret in value:
                value = value.replace(secret, mark)
        return value

    def value(self, value: T) -> T:
        """Scrub every string inside lists, dicts, tuples and dataclasses (in place for dataclasses)."""
        if not self._pairs:
            return value
        if isinstance(value, str):
            return self.text(value)  # type: ignore[return-value]
        if isinstance(value, list):
            return [self.value(item) for item in value]  # type: ignore[return-value]
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)  # type: ignore[return-value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}  # type: ignore[return-value]
        if is_dataclass(value) and not isinstance(value, type):
            for spec in fields(value):
                setattr(value, spec.name, self.value(getattr(value, spec.name)))
        return value

    def file(self, path: Path) -> None:
        """Rewrite a text file (a HAR) with its secrets replaced; other files are left alone."""
        if not self._pairs or not path.is_file():
            return
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return
        scrubbed = self.text(text)
        if scrubbed != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(scrubbed, encoding="utf-8")
            tmp.replace(path)
