"""GRU4Rec-style recurrent model: a GRU reads the item embeddings left to right."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Choice, Int
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams, front_aligned


@dataclasses.dataclass(frozen=True)
class GRUParams(TrainParams):
    hidden: int = 128  # GRU state size; projected back to emb_dim for scoring
    layers: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.hidden >= 1 and self.layers >= 1,
            f"hidden and layers must be >= 1, got {self.hidden} and {self.layers}",
        )


class GRUEncoder(nn.Module):
    def __init__(self, p: GRUParams) -> None:
        super().__init__()
        self.gru = nn.GRU(
            p.emb_dim,
            p.hidden,
            num_layers=p.layers,
            batch_first=True,
            dropout=p.dropout if p.layers > 1 else 0.0,
        )
        self.out = nn.Sequential(nn.Dropout(p.dropout), nn.Linear(p.hidden, p.emb_dim))

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        states = front_aligned(lambda x: self.gru(x)[0], embedded, present)  # [B, L, hidden]
        return self.out(states)  # [B, L, d]


@register_model("gru")
class GRU4Rec(SequenceModel):
    """GRU4Rec (Hidasi et al. 2016) with a shared item embedding for input and output."""

    display_order = 30

    Params = GRUParams
    search_space = {**TRAIN_SPACE, "hidden": Choice((64, 128, 256)), "layers": Int(1, 3)}

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return GRUEncoder(self.params)
