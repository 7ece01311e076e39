"""NextItNet-style convolutional model: stacked dilated causal 1-D convolutions.

The seed's CNN, kept beside `caser`: causal convolutions give a state at every position, so
one pass trains every position of a sequence, where Caser's filters see a fixed window and
predict only after it.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Choice, Int
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams, front_aligned


@dataclasses.dataclass(frozen=True)
class CNNParams(TrainParams):
    kernel: int = 3
    # Each block's two convolutions have dilations d and 2d, so the receptive field is
    # 1 + 3 (kernel - 1) sum(dilations) blocks: 91 items at the defaults.
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    blocks: int = 1  # how many times the dilation stack repeats

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.kernel >= 1 and self.blocks >= 1,
            f"kernel and blocks must be >= 1, got {self.kernel} and {self.blocks}",
        )
        require(
            len(self.dilations) > 0 and min(self.dilations) >= 1,
            f"dilations must be one or more integers >= 1, got {self.dilations}",
        )


class CausalResidualBlock(nn.Module):
    """Two dilated causal convolutions with layer norm, ReLU and a residual connection."""

    def __init__(self, d: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(d, d, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(d, d, kernel, dilation=2 * dilation)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, L, d]
        h = F.pad(x.transpose(1, 2), (self.pad, 0))  # [B, d, pad + L], causal: left only
        h = F.relu(self.norm1(self.conv1(h).transpose(1, 2)))  # [B, L, d]
        h = F.pad(h.transpose(1, 2), (2 * self.pad, 0))
        h = F.relu(self.norm2(self.conv2(h).transpose(1, 2)))
        return x + self.dropout(h)


class CNNEncoder(nn.Module):
    def __init__(self, p: CNNParams) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *[
                CausalResidualBlock(p.emb_dim, p.kernel, d, p.dropout)
                for _ in range(p.blocks)
                for d in p.dilations
            ]
        )

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        return front_aligned(self.blocks, embedded, present)  # [B, L, d]


@register_model("cnn")
class NextItNet(SequenceModel):
    """NextItNet (Yuan et al. 2019): dilated causal convolutions over item embeddings."""

    display_order = 20

    Params = CNNParams
    search_space = {**TRAIN_SPACE, "kernel": Choice((2, 3, 5)), "blocks": Int(1, 3)}

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return CNNEncoder(self.params)
