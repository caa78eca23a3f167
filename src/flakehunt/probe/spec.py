"""
Probe specs: the YAML files in `probes/` that say what to load, what "working" means, and
across which configurations to try it (see probes/conversion-pixel.yaml for a commented one).

Every mistake in a spec is reported as one line naming the file, the key and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flakehunt.errors import FlakehuntError
from flakehunt.probe.profiles import BLOCKERS, BROWSERS, CACHE_MODES, NETWORK_PROFILES, PLACES, place_label

DIMENSIONS = ("browser", "device", "locale", "timezone", "geolocation", "network", "blocker", "cache", "edge")
STEP_ACTIONS = ("goto", "click", "fill", "press", "wait_for", "scroll", "evaluate", "wait")
CHECK_KINDS = ("request", "selector", "no_console_error", "no_failed_request", "js", "header", "load_ms")
_TOP_KEYS = {
    "name",
    "description",
    "url",
    "steps",
    "checks",
    "matrix",
    "repeat",
    "edges",
    "origin",
    "freshness",
    "timeout_ms",
    "settle_ms",
    "retries",
}
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Step:
    action: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Check:
    kind: str
    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ProbeSpec:
    """A loaded, validated probe spec."""

    name: str
    url: str
    steps: tuple[Step, ...]
    checks: tuple[Check, ...]
    dimensions: dict[str, tuple[Any, ...]]
    include: tuple[dict[str, Any], ...] = ()
    exclude: tuple[dict[str, Any], ...] = ()
    repeat: int = 1
    edges: tuple[str, ...] = ()
    origin: str | None = None
    freshness: tuple[str, ...] = ()
    timeout_ms: int = 30_000
    settle_ms: int = 250
    retries: int = 2
    description: str = ""
    path: Path | None = field(default=None, compare=False)


class SpecError(FlakehuntError):
    """A probe spec is not valid YAML or breaks the spec's rules."""


def load_spec(path: Path | str) -> ProbeSpec:
    """
    Load and validate a probe spec.

    Parameters
    ----------
    path
        A YAML file such as `probes/conversion-pixel.yaml`.

    Raises
    ------
    SpecError
        The file is missing, is not YAML, or a key is unknown, missing or has a bad value; the
        message names the key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read probe spec {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"{path}: not valid YAML{where}; check indentation and quoting") from None
    return parse_spec(data, source=str(path), path=path)


def parse_spec(data: Any, *, source: str = "spec", path: Path | None = None) -> ProbeSpec:
    """Validate an already-parsed spec mapping (what `load_spec` does after reading YAML)."""
    v = _Validator(source)
    top = v.mapping(data, "")
    if unknown := sorted(set(top) - _TOP_KEYS):
        v.fail(unknown[0], f"is not a spec key; known keys: {', '.join(sorted(_TOP_KEYS))}")
    url = v.url(top.get("url"), "url")
    matrix = v.mapping(top.get("matrix", {}), "matrix")
    dimensions, include, exclude = _parse_matrix(v, matrix)
    return ProbeSpec(
        name=str(top.get("name") or (path.stem if path else "probe")),
        description=str(top.get("description") or ""),
        url=url,
        steps=tuple(_parse_step(v, raw, f"steps[{i}]") for i, raw in enumerate(v.list(top, "steps"))),
        checks=tuple(_parse_check(v, raw, f"checks[{i}]") for i, raw in enumerate(v.list(top, "checks"))),
        dimensions=dimensions,
        include=include,
        exclude=exclude,
        repeat=v.count(top.get("repeat", 1), "repeat", minimum=1),
        edges=tuple(str(e) for e in v.list(top, "edges")),
        origin=v.url(top["origin"], "origin") if top.get("origin") else None,
        freshness=tuple(str(u) for u in v.list(top, "freshness")),
        timeout_ms=v.count(top.get("timeout_ms", 30_000), "timeout_ms", minimum=100),
        settle_ms=v.count(top.get("settle_ms", 250), "settle_ms", minimum=0),
        retries=v.count(top.get("retries", 2), "retries", minimum=0),
        path=path,
    )


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> None:
        raise SpecError(f"{self.source}: key {key!r} {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            if not key:
                raise SpecError(f"{self.source}: a probe spec must be a YAML mapping, got {value!r:.60}")
            self.fail(key, f"must be a mapping, got {value!r:.60}")
        return value

    def list(self, parent: dict[str, Any], key: str, prefix: str = "") -> list[Any]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(prefix + key, f"must be a list, got {value!r:.60}")
        return value

    def count(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def url(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value):
            self.fail(key, f"must be an http(s) URL, got {value!r}")
        return value

    def pattern(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(key, f"must be a URL pattern (a substring, or 're:' and a regex), got {value!r}")
        if value.startswith("re:"):
            try:
                re.compile(value[3:])
            except re.error as exc:
                self.fail(key, f"is not a valid regex ({exc}): {value!r}")
        return value


def _parse_matrix(
    v: _Validator, matrix: dict[str, Any]
) -> tuple[dict[str, tuple[Any, ...]], tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    known = {*DIMENSIONS, "include", "exclude"}
    if unknown := sorted(set(matrix) - known):
        v.fail(f"matrix.{unknown[0]}", f"is not a dimension; dimensions: {', '.join(DIMENSIONS)}")
    dimensions: dict[str, tuple[Any, ...]] = {}
    for name in DIMENSIONS:
        if name not in matrix:
            continue
        raw = matrix[name]
        if name == "edge" and raw == "all":
            dimensions[name] = ("all",)
            continue
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            v.fail(f"matrix.{name}", "must list at least one value")
        dimensions[name] = tuple(_dimension_value(v, name, value, f"matrix.{name}") for value in values)
    rules = []
    for kind in ("include", "exclude"):
        parsed = []
        for i, rule in enumerate(v.list(matrix, kind, "matrix.")):
            key = f"matrix.{kind}[{i}]"
            rule = v.mapping(rule, key)
            if unknown := sorted(set(rule) - set(DIMENSIONS)):
                v.fail(f"{key}.{unknown[0]}", f"is not a dimension; dimensions: {', '.join(DIMENSIONS)}")
            parsed.append({k: _dimension_value(v, k, val, f"{key}.{k}") for k, val in rule.items()})
        rules.append(tuple(parsed))
    return dimensions, rules[0], rules[1]


def _dimension_value(v: _Validator, name: str, value: Any, key: str) -> Any:
    def choose(options: tuple[str, ...] | list[str]) -> str:
        if value not in options:
            v.fail(key, f"has unknown value {value!r}; choose one of: {', '.join(options)}")
        return value

    if name == "browser":
        return choose(BROWSERS)
    if name == "network":
        return choose(list(NETWORK_PROFILES))
    if name == "blocker":
        return choose(BLOCKERS) if value is not False else "off"
    if name == "cache":
        return choose(CACHE_MODES)
    if name == "geolocation":
        if isinstance(value, dict):
            lat, lon = value.get("lat"), value.get("lon")
            if set(value) != {"lat", "lon"} or not all(isinstance(x, int | float) for x in (lat, lon)):
                v.fail(key, f"must be a place name or {{lat: .., lon: ..}}, got {value!r}")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                v.fail(key, f"has coordinates out of range: {value!r}")
            return place_label(value)
        return choose(list(PLACES))
    if name == "locale" and not (isinstance(value, str) and _LOCALE.match(value)):
        v.fail(key, f"must be a BCP 47 locale such as 'de-DE', got {value!r}")
    if name == "timezone" and not ((isinstance(value, str) and "/" in value) or value == "UTC"):
        v.fail(key, f"must be an IANA time zone such as 'Europe/Berlin', got {value!r}")
    if not isinstance(value, str) or not value:
        v.fail(key, f"must be a non-empty string, got {value!r}")
    return value


def _parse_step(v: _Validator, raw: Any, key: str) -> Step:
    if isinstance(raw, str) and raw in ("wait_for_network_idle",):
        return Step("wait_for", {"network_idle": True})
    step = v.mapping(raw, key)
    actions = [name for name in step if name in STEP_ACTIONS]
    if len(actions) != 1:
        v.fail(key, f"must have exactly one action of: {', '.join(STEP_ACTIONS)}; got {sorted(step)!r}")
    action = actions[0]
    args = {k: val for k, val in step.items() if k != action}
    value = step[action]
    if action in ("goto", "click", "scroll", "evaluate", "press") and value is not None:
        if action == "press" and not isinstance(value, str):
            v.fail(f"{key}.press", f"must be a key name such as 'Enter', got {value!r}")
        args["target"] = value
    elif action == "fill":
        fill = v.mapping(value, f"{key}.fill")
        if "selector" not in fill or ("value" in fill) == ("secret" in fill):
            v.fail(f"{key}.fill", "needs 'selector' and exactly one of 'value' or 'secret' (an env var name)")
        args.update(fill)
    elif action == "wait_for":
        if isinstance(value, str):
            args.update({"network_idle": True} if value == "network_idle" else {"selector": value})
        else:
            wait = v.mapping(value, f"{key}.wait_for")
            if not {"selector", "request", "network_idle"} & set(wait):
                v.fail(f"{key}.wait_for", "needs 'selector', 'request' or 'network_idle'")
            if "request" in wait:
                v.pattern(wait["request"], f"{key}.wait_for.request")
            args.update(wait)
    elif action == "wait":
        args["ms"] = v.count(value, f"{key}.wait", minimum=0)
    return Step(action, args)


def _parse_check(v: _Validator, raw: Any, key: str) -> Check:
    check = v.mapping(raw, key)
    kinds = [name for name in check if name in CHECK_KINDS]
    if len(kinds) != 1:
        v.fail(key, f"must have exactly one check of: {', '.join(CHECK_KINDS)}; got {sorted(check)!r}")
    kind = kinds[0]
    value = check[kind]
    params = {k: val for k, val in check.items() if k not in (kind, "name")}
    allowed = {
        "request": {"within_ms", "status"},
        "selector": {"visible", "contains"},
        "header": set(),
        "load_ms": set(),
        "js": set(),
        "no_console_error": set(),
        "no_failed_request": set(),
    }[kind]
    if unknown := sorted(set(params) - allowed):
        v.fail(f"{key}.{unknown[0]}", f"is not an option of a {kind!r} check")
    if kind in ("request", "no_failed_request"):
        params["pattern"] = v.pattern(value, f"{key}.{kind}")
        if "within_ms" in params:
            v.count(params["within_ms"], f"{key}.within_ms", minimum=1)
        if "status" in params:
            statuses = params["status"] if isinstance(params["status"], list) else [params["status"]]
            for status in statuses:
                if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
                    v.fail(f"{key}.status", f"must list HTTP status codes, got {params['status']!r}")
            params["status"] = statuses
    elif kind == "no_console_error":
        params["pattern"] = v.pattern(value or "re:.", f"{key}.{kind}") if value is not True else "re:."
    elif kind in ("selector", "js"):
        if not isinstance(value, str) or not value:
            v.fail(f"{key}.{kind}", f"must be a non-empty string, got {value!r}")
        params["target"] = value
    elif kind == "load_ms":
        params["limit"] = v.count(value, f"{key}.load_ms", minimum=1)
    elif kind == "header":
        header = v.mapping(value, f"{key}.header")
        if (
            not {"url", "name"} <= set(header)
            or len({"equals", "matches", "equals_origin"} & set(header)) != 1
        ):
            v.fail(
                f"{key}.header",
                "needs 'url', 'name' and exactly one of 'equals', 'matches', 'equals_origin'",
            )
        v.pattern(header["url"], f"{key}.header.url")
        params.update(header)
        params["name"] = str(header["name"]).lower()
    name = str(check.get("name") or _default_check_name(kind, value))
    return Check(kind, name, params)


def _default_check_name(kind: str, value: Any) -> str:
    if kind == "header" and isinstance(value, dict):
        return f"header {value.get('name')} of {value.get('url')}"
    if kind == "load_ms":
        return f"load under {value} ms"
    return f"{kind} {value}" if value not in (None, True) else kind
