"""MLP over the last `window` item embeddings, each position with its own weights.

The first layer of an MLP on a concatenated window, sum_k W_k e(x[t-k]), is a causal 1-D
convolution with kernel `window`; written that way it gives a state at every position at once.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Choice, Int
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams


@dataclasses.dataclass(frozen=True)
class MLPParams(TrainParams):
    window: int = 0  # items the MLP reads; 0 means SEQ_LEN
    hidden: int = 128
    layers: int = 2  # hidden layers after the first

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.window >= 0, f"window must be >= 0 (0: SEQ_LEN), got {self.window}")
        require(
            self.hidden >= 1 and self.layers >= 0,
            f"hidden must be >= 1 and layers >= 0, got {self.hidden} and {self.layers}",
        )


class MLPEncoder(nn.Module):
    def __init__(self, p: MLPParams, window: int) -> None:
        super().__init__()
        self.window = window
        self.first = nn.Conv1d(p.emb_dim, p.hidden, window)  # position-specific weights
        layers = []
        for _ in range(p.layers):
            layers += [nn.GELU(), nn.Dropout(p.dropout), nn.Linear(p.hidden, p.hidden)]
        self.rest = nn.Sequential(*layers, nn.GELU(), nn.Linear(p.hidden, p.emb_dim))

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        h = F.pad(embedded.transpose(1, 2), (self.window - 1, 0))  # [B, d, window - 1 + L]
        return self.rest(self.first(h).transpose(1, 2))  # [B, L, d]


@register_model("mlp")
class WindowMLP(SequenceModel):
    """A multi-layer perceptron over a fixed window of recent items."""

    display_order = 10  # simplest first

    Params = MLPParams
    search_space = {**TRAIN_SPACE, "hidden": Choice((64, 128, 256)), "layers": Int(0, 3)}

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return MLPEncoder(self.params, self.params.window or seq_len)
