"""Caser (Tang and Wang, WSDM 2018): convolutions over the matrix of the last L item embeddings,
horizontal filters for union-level patterns and vertical ones for point-level patterns,
trained to predict the next T items.

Follows the paper: at each position the last `window` (L) embeddings form an L x d image;
`horizontal` (n_h) filters of every height 1..L slide over it, each followed by ReLU and a max
over time; `vertical` (n_v) filters of height L weigh its rows; both are concatenated, passed
through dropout and a fully connected layer with ReLU to a d-dimensional state; each position
is trained on its next `targets` (T) items. Changes: no user embedding and no item bias (every
sequence model here is a function of the history, scored as state . item embedding, with one
embedding table for input and output, where Caser has a second output table of size 2d); every
position with its window is one training sample of one pass (the paper samples (L, T) windows);
the loss is the trainer's (`ce` by default; the paper's BCE with three negatives is
`--param loss=bce --param neg_ratio=3`). Defaults are the paper's: L = 5, T = 3, n_h = 16,
n_v = 4, dropout 0.5.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Choice, Int
from protocols.types import PAD
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams


@dataclasses.dataclass(frozen=True)
class CaserParams(TrainParams):
    window: int = 5  # L: the items each position's convolutions read (itself and L - 1 before)
    targets: int = 3  # T: the next items each position is trained to predict
    horizontal: int = 16  # n_h: filters per height 1..L
    vertical: int = 4  # n_v
    dropout: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("window", "targets", "horizontal", "vertical"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")


class CaserEncoder(nn.Module):
    """Each position's window is the L embeddings ending at it. Rather than cutting out every
    window, each filter runs once along the sequence (zeros before its start): a horizontal
    filter of height h then has L - h + 1 placements inside each window, whose maximum is a
    sliding max; a vertical filter is a convolution of length L shared by every dimension."""

    def __init__(self, p: CaserParams) -> None:
        super().__init__()
        d, window = p.emb_dim, p.window
        self.window = window
        self.vertical = nn.Conv1d(1, p.vertical, kernel_size=window)  # n_v weightings of rows
        self.horizontal = nn.ModuleList(
            nn.Conv1d(d, p.horizontal, kernel_size=h) for h in range(1, window + 1)
        )
        self.dropout = nn.Dropout(p.dropout)
        self.fc = nn.Linear(p.vertical * d + p.horizontal * window, d)

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        b, length, d = embedded.shape
        columns = (embedded * present[..., None]).transpose(1, 2)  # [B, d, W]
        padded = F.pad(columns, (self.window - 1, 0))  # [B, d, W + L - 1]
        vertical = self.vertical(padded.reshape(b * d, 1, -1))  # [B * d, n_v, W]
        vertical = vertical.view(b, d, -1, length).permute(0, 3, 2, 1).flatten(2)  # [B, W, n_v d]
        horizontal = [
            F.max_pool1d(F.relu(conv(padded)), self.window - h, stride=1)  # [B, n_h, W]
            for h, conv in enumerate(self.horizontal)  # conv of height h + 1
        ]
        joined = torch.cat([vertical, torch.cat(horizontal, dim=1).transpose(1, 2)], dim=2)
        return F.relu(self.fc(self.dropout(joined)))  # [B, W, d]


@register_model("caser")
class Caser(SequenceModel):
    """Horizontal and vertical convolutions over the last L items, trained on the next T."""

    display_order = 25
    Params = CaserParams
    search_space = {
        **TRAIN_SPACE,
        "window": Int(2, 9),
        "targets": Int(1, 3),
        "horizontal": Choice((8, 16, 32)),
        "vertical": Choice((2, 4, 8)),
    }

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return CaserEncoder(self.params)

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor, loss) -> torch.Tensor:
        """The mean over steps j < T of the loss of each position t on the item at t + 1 + j
        (targets[:, t + j]); the states are computed once."""
        states = self.net_(inputs)  # [B, W, d]
        width = states.shape[1]
        parts = []
        for step in range(min(self.params.targets, width)):
            later = targets[:, step:]  # [B, W - step]: the item step + 1 after each position
            present = later != PAD
            if present.any():
                parts.append(loss(self.net_, states[:, : width - step][present], later[present]))
        return torch.stack(parts).mean()
