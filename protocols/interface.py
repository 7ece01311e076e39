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
    # Row order in tables: baselines, then the others, each by this number, then by name.
    display_order: ClassVar[int] = 1000
    uses_seq_len: ClassVar[bool] = False  # reads only the last seq_len items of each history
    # Parameters a tuning study may search ({Params field: Domain}); None: the model cannot be
    # tuned, {}: nothing to tune (the default runs once). See protocols/search_space.py.
    search_space: ClassVar[dict[str, Any] | None] = None
    # Modules beyond the class's own (and its bases') whose source decides its numbers, e.g. the
    # shared trainer: they count in the code fingerprint, so a change never reuses old records.
    code_modules: ClassVar[tuple[str, ...]] = ()
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

    @classmethod
    def can_train_with(cls, loss: str) -> bool:
        """Whether the model trains with the registered loss `loss` (`--loss`); models that do
        not train with a loss answer False."""
        return False

    def set_epoch_hooks(self, hooks: tuple) -> None:
        """Calls `hook(model, entry)` after each training epoch's validation (a search prunes
        hopeless trials with one). Models that do not train in epochs ignore them."""
        return None

    def to_device(self, device: str) -> None:
        """Move a fitted model (loaded from a saved file) to `device`; a no-op for CPU-only ones."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"
