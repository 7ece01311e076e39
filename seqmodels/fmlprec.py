"""FMLP-Rec (Zhou et al., WWW 2022): all-MLP blocks whose token mixing is a learnable filter
applied in the frequency domain (FFT along the sequence) instead of self-attention.

Follows the paper: learned position embeddings, then blocks of [filter layer, residual,
LayerNorm] and [point-wise feed-forward (4d, GELU), residual, LayerNorm], dropout after each.
Changes: the paper's filter multiplies the sequence's FFT by a learnable spectrum, a circular
convolution through which every position sees the later ones; under the next-item objective at
every position (the trainer's) that would show each position its own target. Here the filter is
a learnable kernel of one weight per lag and channel, applied by FFT with zero padding to twice
the length: a linear, causal convolution (position t mixes positions <= t), at the same cost.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Int
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams


@dataclasses.dataclass(frozen=True)
class FMLPParams(TrainParams):
    blocks: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.blocks >= 1, f"blocks must be >= 1, got {self.blocks}")


class CausalFilter(nn.Module):
    """y[t] = sum over s <= t of k[t - s] * x[s], per channel, computed by FFT."""

    def __init__(self, seq_len: int, dim: int) -> None:
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(seq_len, dim) * 0.02)  # [L, d], lag 0 first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        n = 2 * length  # zero padding: no wrap-around, so no position sees a later one
        spectrum = torch.fft.rfft(x, n=n, dim=1) * torch.fft.rfft(self.kernel[:length], n=n, dim=0)
        return torch.fft.irfft(spectrum, n=n, dim=1)[:, :length]  # [B, L, d]


class FMLPBlock(nn.Module):
    def __init__(self, p: FMLPParams, seq_len: int) -> None:
        super().__init__()
        d = p.emb_dim
        self.filter = CausalFilter(seq_len, d)
        self.filter_norm = nn.LayerNorm(d)
        self.feed_forward = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.ff_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(p.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.filter_norm(x + self.dropout(self.filter(x)))
        return self.ff_norm(x + self.dropout(self.feed_forward(x)))


class FMLPEncoder(nn.Module):
    def __init__(self, p: FMLPParams, seq_len: int) -> None:
        super().__init__()
        self.positions = nn.Embedding(seq_len, p.emb_dim)
        self.norm = nn.LayerNorm(p.emb_dim)
        self.dropout = nn.Dropout(p.dropout)
        self.blocks = nn.ModuleList(FMLPBlock(p, seq_len) for _ in range(p.blocks))

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        keep = present[..., None]  # [B, L, 1]: padding stays zero, so it adds nothing to a sum
        length = embedded.shape[1]
        x = self.dropout(self.norm(embedded + self.positions.weight[-length:])) * keep
        for block in self.blocks:
            x = block(x) * keep
        return x  # [B, L, d]


@register_model("fmlprec")
class FMLPRec(SequenceModel):
    """Filter-enhanced MLP: causal learnable filters instead of self-attention."""

    display_order = 60
    Params = FMLPParams
    search_space = {**TRAIN_SPACE, "blocks": Int(1, 4)}

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return FMLPEncoder(self.params, seq_len)
