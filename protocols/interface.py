"""The one contract every model honours: `fit(data) -> self`, then `score(batch) -> [B, n_items + 1]`.

Protocols never call anything else on a model, so every protocol works for every model.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
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

    def fitted_state(self) -> dict[str, Any]:
        """The learned state as tensors, arrays and plain values: what a saved model holds, so
        loading it runs no code. By default every attribute ending in `_` (see the class
        docstring); a model holding a network or a library object overrides this and
        `load_fitted_state`. Raises TypeError for a value it cannot store."""
        return {k: plain_value(k, v) for k, v in vars(self).items() if k.endswith("_")}

    def load_fitted_state(self, state: dict[str, Any]) -> None:
        """The inverse of `fitted_state`, on a model built with the same parameters."""
        for key, value in state.items():
            setattr(self, key, from_plain(value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


def plain_value(name: str, value: Any) -> Any:
    """A fitted attribute as tensors and plain values (`torch.load(weights_only=True)` reads
    them): arrays and sparse matrices become tagged tuples of tensors."""
    if value is None or isinstance(value, bool | int | float | str | torch.Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype != object:
        return ("ndarray", torch.from_numpy(np.ascontiguousarray(value)))
    if sp.issparse(value):
        m = sp.csr_matrix(value)
        arrays = (m.data, m.indices, m.indptr)
        return ("csr", *(torch.from_numpy(a) for a in arrays), tuple(m.shape))
    if isinstance(value, torch.device):
        return ("device", str(value))
    if isinstance(value, list | tuple):
        return type(value)(plain_value(name, v) for v in value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: plain_value(name, v) for k, v in value.items()}
    raise TypeError(f"{name}: a {type(value).__name__} cannot be saved as plain state")


def from_plain(value: Any) -> Any:
    """The inverse of `plain_value`."""
    if isinstance(value, tuple) and value and value[0] == "ndarray":
        return value[1].numpy()
    if isinstance(value, tuple) and value and value[0] == "csr":
        data, indices, indptr, shape = value[1:]
        return sp.csr_matrix((data.numpy(), indices.numpy(), indptr.numpy()), shape=shape)
    if isinstance(value, tuple) and value and value[0] == "device":
        return torch.device(value[1])
    if isinstance(value, list | tuple):
        return type(value)(from_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: from_plain(v) for k, v in value.items()}
    return value
