"""Re-rankers: what a user is shown, made from a fitted model's scores without retraining.

`rank_targets(..., rerank=R)` hands every batch of scores to `R(scores, allowed, batch)` and
ranks what comes back, under both protocols. A re-ranker either re-scores (pop-penalty) or
builds each user's list of `LIST_LENGTH` items and lifts it above every other item, in list
order, the rest keeping the model's order below it (`lift`). A *global* one (`pool > 0`)
decides all users' lists together: `rank_targets` first hands it every user's `pool` best
candidates (`plan`), then scores again and asks for each batch.

Each re-ranker has one strength (`Strength`: range, default grid, how it is chosen); a spec
on the command line is `NAME=STRENGTH` (`parse_spec`). A plugin registers one with
`@register_reranker("name")`. The package's source counts in the run id of re-ranked runs
only (`benchmark.config.ProtocolConfig.rerank_code`): changing a re-ranker never invalidates
the records of plain runs.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from protocols.errors import InputError
from protocols.registry import Registry
from protocols.types import UserBatch

LIST_LENGTH = 10  # the slots a list re-ranker fills; beyond them the model's own order


@dataclass(frozen=True)
class Strength:
    """A re-ranker's one knob: its symbol, closed range and default grid. A strength of 0, where
    the range allows it, is the model's own ranking. Which strength to use is chosen on
    validation (`benchmark.frontier.chosen`)."""

    symbol: str
    low: float
    high: float
    grid: tuple[float, ...]
    integer: bool = False
    meaning: str = ""
    increasing: bool = True  # a larger value re-ranks more (False: a cap, where less is more)

    def check(self, name: str, value: float) -> float:
        if not (math.isfinite(value) and self.low <= value <= self.high):
            bounds = (
                f">= {self.low:g}" if math.isinf(self.high) else f"in [{self.low:g}, {self.high:g}]"
            )
            raise InputError(f"--rerank {name}: {self.symbol} must be {bounds}, got {value:g}")
        if self.integer and value != int(value):
            raise InputError(f"--rerank {name}: {self.symbol} must be an integer, got {value:g}")
        return float(value)


class Reranker(ABC):
    """Base of every re-ranker: built per evaluation set from the strength, the training
    popularity [n_items + 1] and the run's seed; never touches the model."""

    name: ClassVar[str] = ""  # set by the registry
    strength: ClassVar[Strength]
    pool = 0  # > 0: global; each user's best `pool` candidates go to `plan` first

    def __init__(self, strength: float, popularity: np.ndarray, seed: int = 0) -> None:
        self.value = self.strength.check(self.name, strength)
        self.popularity = np.asarray(popularity, dtype=np.float64)
        self.seed = seed

    def check_feasible(self, n_users: int, n_items: int) -> None:
        """InputError when this strength cannot give `n_users` lists over `n_items` items
        (checked before any model runs)."""
        return None

    def plan(self, users: np.ndarray, pools: np.ndarray) -> None:
        """Global re-rankers: every user's best `pool` items ([U, pool], best first, -1 past a
        user's candidates), before any batch is re-ranked."""
        return None

    @abstractmethod
    def __call__(self, scores: torch.Tensor, allowed: torch.Tensor, batch: UserBatch):
        """Scores [B, n_items + 1] -> the scores ranked instead (`allowed`: the candidates).
        The result may be `scores` itself; `scores` is never written into."""

    def describe(self) -> str:
        return f"{self.name}={self.value:g}"


RERANKERS: Registry[type[Reranker]] = Registry(
    "re-ranker", "a re-ranker of your own registers when its module is imported: --plugins MODULE"
)
register_reranker = RERANKERS.register


def parse_spec(spec: str) -> tuple[str, float]:
    """`"calibrated=0.5"` -> ("calibrated", 0.5), checked against the re-ranker's range."""
    name, eq, text = spec.partition("=")
    if not eq:
        raise InputError(f"--rerank expects NAME=STRENGTH, got {spec!r}")
    cls = RERANKERS.get(name.strip())
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--rerank {name}: cannot read {text!r} as a number") from None
    return cls.name, cls.strength.check(cls.name, value)


def canonical(spec: str) -> str:
    """The one spelling of a spec in configurations and run ids (`pop-penalty=0.1`)."""
    if not spec:
        return ""
    name, value = parse_spec(spec)
    return f"{name}={value:g}"


def make_reranker(spec: str, popularity: np.ndarray, seed: int) -> Reranker:
    name, value = parse_spec(spec)
    return RERANKERS.get(name)(value, popularity, seed)


def code_fingerprint(spec: str) -> str:
    """A hash of this package's source and of the module defining the spec's re-ranker (a
    plugin's included)."""
    import protocols.rerank as package

    digest = hashlib.sha256()
    names = [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    modules = [package, *map(importlib.import_module, names)]
    own = inspect.getmodule(RERANKERS.get(parse_spec(spec)[0]))
    for module in sorted({*modules, own} - {None}, key=lambda m: m.__name__):
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:12]


def standardise(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Each row's scores standardised over its candidates (mean 0, deviation 1; a constant
    row becomes 0), so one strength means the same for every model's score scale."""
    n = allowed.sum(dim=1, keepdim=True).clamp(min=1)
    zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
    mean = torch.where(allowed, scores, zero).sum(dim=1, keepdim=True) / n
    spread = ((torch.where(allowed, scores - mean, zero) ** 2).sum(dim=1, keepdim=True) / n).sqrt()
    return (scores - mean) / torch.where(spread > 0, spread, torch.ones_like(spread))


def lift(scores: torch.Tensor, lists: torch.Tensor) -> torch.Tensor:
    """Scores (float64) under which each row's `lists` items ([B, K], best first, -1 empty)
    come first, in list order, above every other item; the others keep their scores.

    The lifted values sit above the row's largest finite score by steps relative to it, so
    they stay distinct and in order in float32 too.
    """
    out = scores.double().clone()
    finite = torch.where(torch.isfinite(out), out, -torch.inf).amax(dim=1)  # [B]
    top = torch.where(torch.isfinite(finite), finite, torch.zeros_like(finite))
    step = top.abs().clamp(min=1.0) * 2.0**-10
    rows, slots = (lists > 0).nonzero(as_tuple=True)
    k = lists.shape[1]
    out[rows, lists[rows, slots]] = top[rows] + step[rows] * (k - slots).double()
    return out


def best_items(values: torch.Tensor, allowed: torch.Tensor, k: int) -> torch.Tensor:
    """[B, k] each row's k best allowed columns, best first, equal values by the lower id;
    -1 past a row's allowed columns."""
    from protocols.evaluate import order_keys

    masked = torch.where(allowed, values.float(), -torch.inf)
    ids = torch.arange(values.shape[1], device=values.device)
    k = min(k, values.shape[1])
    top = order_keys(masked, ids.expand_as(masked)).topk(k, dim=1).indices
    return torch.where(allowed.gather(1, top), top, torch.full_like(top, -1))


# the built-in re-rankers register on import (after the names above exist)
from protocols.rerank import exposure, greedy, penalty  # noqa: E402, F401
