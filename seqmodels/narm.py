"""NARM (Li et al., CIKM 2017): a GRU encoder whose last state (the global representation) is
joined by an attention-weighted sum of all its states (the local one, the user's main purpose),
decoded bilinearly against the item embeddings.

Follows the paper: alpha_tj = v . sigmoid(A1 h_t + A2 h_j) over the states j <= t (not
normalised, as in the paper), c_t = [h_t ; sum_j alpha_tj h_j], score(i) = e_i . B c_t, dropout on
the item embeddings and before B. Changes: item embeddings are shared between input and output;
every position is trained on its next item (the paper trains sessions' last positions, with
sessions cut into prefixes, which amounts to the same targets).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Choice
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams, front_aligned


@dataclasses.dataclass(frozen=True)
class NARMParams(TrainParams):
    hidden: int = 100  # GRU state size (the paper's)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden >= 1, f"hidden must be >= 1, got {self.hidden}")


class NARMEncoder(nn.Module):
    def __init__(self, p: NARMParams) -> None:
        super().__init__()
        h = p.hidden
        self.gru = nn.GRU(p.emb_dim, h, batch_first=True)
        self.query = nn.Linear(h, h, bias=False)  # A1
        self.key = nn.Linear(h, h, bias=False)  # A2
        self.v = nn.Linear(h, 1, bias=False)
        self.dropout = nn.Dropout(p.dropout)
        self.bilinear = nn.Linear(2 * h, p.emb_dim, bias=False)  # B

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        states = front_aligned(lambda x: self.gru(x)[0], embedded, present)  # [B, L, h]
        length = states.shape[1]
        q, k = self.query(states), self.key(states)  # [B, L, h] each
        weights = self.v(torch.sigmoid(q[:, :, None] + k[:, None])).squeeze(-1)  # [B, Lt, Lj]
        causal = torch.ones(length, length, dtype=torch.bool, device=states.device).tril()
        weights = weights * (causal & present[:, None, :])  # only real states j <= t
        local = weights @ states  # [B, L, h]
        joined = torch.cat([states, local], dim=-1)  # [B, L, 2h]
        return self.bilinear(self.dropout(joined))  # [B, L, d]


@register_model("narm")
class NARM(SequenceModel):
    """GRU with a global and an attentive local representation, bilinear decoder."""

    display_order = 35
    Params = NARMParams
    search_space = {**TRAIN_SPACE, "hidden": Choice((50, 100, 200))}

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return NARMEncoder(self.params)
