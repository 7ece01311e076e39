"""The one contract every model honours: `fit(data) -> self`, then `score(batch) -> [B, n_items + 1]`.

Protocols never call anything else on a model, so every protocol works for every model.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch

from protocols.types import FitData, UserBatch


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For a model without hyper-parameters."""


class Recommender(ABC):
    """Base class of every model.

    Subclasses set `Params` to a frozen dataclass of hyper-parameters with defaults.
    `__init__` only stores parameters; `fit` builds the learned state (attributes ending in `_`).
    """

    Params: ClassVar[type] = NoParams
    name: ClassVar[str] = ""  # set by the registry
    is_baseline: ClassVar[bool] = False  # tables list baselines first and test against the best
    uses_seq_len: ClassVar[bool] = False  # reads only the last seq_len items of each history
    training_: dict | None = None  # set by fit() of models that train in epochs; goes in the record

    def __init__(self, params: Any = None, **overrides: Any) -> None:
        if params is None:
            params = self.Params()
        self.params = dataclasses.replace(params, **overrides) if overrides else params

    @abstractmethod
    def fit(self, data: FitData) -> Recommender:
        """Learn from the training data; return self."""

    @abstractmethod
    def score(self, batch: UserBatch) -> torch.Tensor:
        """Scores [B, n_items + 1] (float) for every item, higher is better. Column 0 is ignored.
        Callers never write into the result, so it may be a broadcast view."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"
