"""Hyper-parameter search spaces: tiny frozen domains a model declares beside its `Params`.

A model's `search_space` class attribute maps `Params` field names to a domain:

    search_space = {"lr": Float(1e-4, 1e-2, log=True), "layers": Int(1, 3),
                    "emb_dim": Choice((32, 64, 128))}

An empty mapping means "nothing to tune": a search runs the default configuration once.
The default value of every searched field lies inside its domain (a test checks it), so the
first trial of a search, the default configuration, is a point of the space. The search
library (Optuna) is imported only by `benchmark`; these domains are plain data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass(frozen=True)
class Float:
    """A real number in [lo, hi], sampled on a log scale when `log` (then lo > 0)."""

    lo: float
    hi: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.lo <= self.hi or (self.log and self.lo <= 0):
            raise ValueError(f"bad Float domain {self}")

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and self.lo <= value <= self.hi


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer in [lo, hi], sampled on a log scale when `log` (then lo > 0)."""

    lo: int
    hi: int
    log: bool = False

    def __post_init__(self) -> None:
        if not self.lo <= self.hi or (self.log and self.lo <= 0):
            raise ValueError(f"bad Int domain {self}")

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.lo <= value <= self.hi


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a few values (numbers, strings or booleans)."""

    values: tuple

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a Choice needs at least one value")

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)


Domain = Float | Int | Choice


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (True is not 1); floats compare with a tolerance."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b)
    return type(a) is type(b) and a == b


def describe(space: dict[str, Domain]) -> dict[str, dict]:
    """A JSON-ready description: {"lr": {"type": "Float", "lo": 0.0001, "hi": 0.01, "log": true}}."""
    out = {}
    for name, domain in sorted(space.items()):
        fields = dataclasses.asdict(domain)
        if isinstance(domain, Choice):
            fields["values"] = list(domain.values)
        out[name] = {"type": type(domain).__name__, **fields}
    return out
