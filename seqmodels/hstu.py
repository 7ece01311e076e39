"""HSTU (Zhai et al., ICML 2024): Hierarchical Sequential Transduction Units, self-attention
without softmax: pointwise SiLU attention with a relative position bias and a gating branch.

Follows the paper's layer: from the LayerNorm of the input, one projection gives U, V, Q, K
through SiLU; A = SiLU(Q K^T + rab) / n over the causal keys, with a learned bias per relative
distance and n the model's sequence length; the output f2(LayerNorm(A V) * U) is added to the
input (dropout on it). Inputs are the item embeddings scaled by sqrt(d) plus learned positions,
and training is next-item at every position with sampled softmax (`sampled-ce`, 128 shared
uniform negatives with the logQ correction, where the reference code uses 128 negatives per
batch too). Changes: no timestamp bias (the models here read item sequences only); scores are
dot products with a final LayerNorm on the states, where the reference code L2-normalises
states and items and divides by a temperature of 0.05.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from protocols.registry import register_model
from protocols.search_space import Choice, Int
from seqmodels.attention import readable_keys
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams, check_attention


@dataclasses.dataclass(frozen=True)
class HSTUParams(TrainParams):
    blocks: int = 2
    heads: int = 1
    loss: str = "sampled-ce"
    negatives: int = 128

    losses: ClassVar[tuple[str, ...] | None] = ("sampled-ce", "ce")  # softmax objectives

    def __post_init__(self) -> None:
        super().__post_init__()
        check_attention(self)


class HSTULayer(nn.Module):
    def __init__(self, p: HSTUParams, seq_len: int) -> None:
        super().__init__()
        d = p.emb_dim
        self.heads, self.seq_len = p.heads, seq_len
        self.norm = nn.LayerNorm(d)
        self.uvqk = nn.Linear(d, 4 * d)
        self.distance_bias = nn.Parameter(torch.zeros(seq_len))  # rab by distance t - s
        self.attention_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, d)
        self.dropout = nn.Dropout(p.dropout)

    def forward(self, x: torch.Tensor, readable: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        u, v, q, k = F.silu(self.uvqk(self.norm(x))).chunk(4, dim=-1)  # [B, L, d] each

        def split(t):  # [B, L, d] -> [B, heads, L, d / heads]
            return t.view(b, length, self.heads, -1).transpose(1, 2)

        positions = torch.arange(length, device=x.device)
        distance = (positions[:, None] - positions[None, :]).clamp(0, self.seq_len - 1)
        logits = split(q) @ split(k).transpose(-1, -2) + self.distance_bias[distance]
        weights = F.silu(logits) * readable[:, None] / self.seq_len  # [B, heads, L, L]
        attended = (weights @ split(v)).transpose(1, 2).reshape(b, length, d)
        return x + self.dropout(self.out(self.attention_norm(attended) * u))


class HSTUEncoder(nn.Module):
    def __init__(self, p: HSTUParams, seq_len: int) -> None:
        super().__init__()
        self.positions = nn.Embedding(seq_len, p.emb_dim)
        self.layers = nn.ModuleList(HSTULayer(p, seq_len) for _ in range(p.blocks))
        self.dropout = nn.Dropout(p.dropout)
        self.norm = nn.LayerNorm(p.emb_dim)

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        length, d = embedded.shape[1:]
        keep = present[..., None]
        x = self.dropout(embedded * d**0.5 + self.positions.weight[-length:]) * keep
        readable = readable_keys(present) & present[:, :, None]  # padding queries read nothing
        for layer in self.layers:
            x = layer(x, readable) * keep
        return self.norm(x) * keep


@register_model("hstu")
class HSTU(SequenceModel):
    """Pointwise SiLU attention with relative position bias and gating, sampled softmax."""

    display_order = 55
    Params = HSTUParams
    search_space = {
        **TRAIN_SPACE,
        "blocks": Int(1, 4),
        "heads": Choice((1, 2, 4)),
        "negatives": Choice((64, 128, 256, 512)),
    }

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return HSTUEncoder(self.params, seq_len)
