"""Expand a spec's matrix into configurations: product, exclude rules, include rules, the customer's."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from flakehunt.probe.spec import DIMENSIONS, ProbeSpec, SpecError, _dimension_value, _Validator

# What a configuration holds for a dimension the spec does not vary.
DEFAULTS: dict[str, Any] = {
    "browser": "chromium",
    "device": None,
    "locale": None,
    "timezone": None,
    "geolocation": None,
    "network": "fast",
    "blocker": "off",
    "cache": "cold",
    "edge": None,
}


def expand_matrix(
    spec: ProbeSpec, *, edges: Sequence[str] = (), customer: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """
    Every configuration to probe, each a dict over `DIMENSIONS` (edge = the pinned address).

    `edges` replaces the spec's `edge` values (and `all`); configurations from `include` rules
    and the customer's own one are probed on every edge unless they name one.

    >>> from flakehunt.probe.spec import parse_spec
    >>> spec = parse_spec({"url": "http://x.test/", "matrix": {"browser": ["chromium", "firefox"],
    ...     "exclude": [{"browser": "firefox"}]}})
    >>> [c["browser"] for c in expand_matrix(spec, edges=["127.0.0.2", "127.0.0.3"])]
    ['chromium', 'chromium']
    """
    dimensions = dict(spec.dimensions)
    edge_values: tuple[Any, ...]
    if edges:
        edge_values = tuple(edges)
    elif dimensions.get("edge", ()) == ("all",):
        raise SpecError("matrix.edge is 'all' but no edges were discovered; pass --edge-ips or list 'edges'")
    else:
        edge_values = dimensions.get("edge", (None,))
    dimensions["edge"] = edge_values
    names = list(DIMENSIONS)
    value_lists = [dimensions.get(name, (DEFAULTS[name],)) for name in names]
    configs = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*value_lists)]
    configs = [c for c in configs if not any(_matches(c, rule) for rule in spec.exclude)]
    extra = list(spec.include)
    if customer:
        extra.append(_customer_rule(customer))
    firsts = {name: values[0] for name, values in zip(names, value_lists, strict=True)}
    for rule in extra:
        edges_for_rule = [rule["edge"]] if "edge" in rule else list(edge_values)
        for edge in edges_for_rule:
            configs.append({**firsts, **rule, "edge": edge})
    unique: dict[tuple, dict[str, Any]] = {}
    for config in configs:
        unique.setdefault(tuple(config[name] for name in names), config)
    return list(unique.values())


def _matches(config: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    return all(config.get(key) == value for key, value in rule.items())


def _customer_rule(customer: Mapping[str, Any]) -> dict[str, Any]:
    v = _Validator("--customer")
    rule = {}
    for key, value in customer.items():
        if key not in DIMENSIONS:
            raise SpecError(f"--customer: {key!r} is not a dimension; dimensions: {', '.join(DIMENSIONS)}")
        rule[key] = _dimension_value(v, key, value, key)
    return rule
