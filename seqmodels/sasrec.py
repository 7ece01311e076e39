"""SASRec: causal self-attention over the item sequence (Kang & McAuley 2018)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from protocols.registry import register_model
from protocols.search_space import Choice, Int
from seqmodels.attention import readable_keys
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams, check_attention


@dataclasses.dataclass(frozen=True)
class SASRecParams(TrainParams):
    blocks: int = 2
    heads: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_attention(self)


class SASRecEncoder(nn.Module):
    def __init__(self, p: SASRecParams, seq_len: int) -> None:
        super().__init__()
        self.heads = p.heads
        self.positions = nn.Embedding(seq_len, p.emb_dim)
        layer = nn.TransformerEncoderLayer(
            p.emb_dim,
            p.heads,
            dim_feedforward=p.emb_dim,
            dropout=p.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, p.blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(p.emb_dim)

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        b, length, d = embedded.shape
        x = embedded * d**0.5 + self.positions.weight[-length:]  # [B, L, d]; right-aligned
        x = x * present[..., None]
        allowed = readable_keys(present)  # earlier real items and itself
        mask = (~allowed).repeat_interleave(self.heads, dim=0)  # [B * heads, L, L]
        return self.norm(self.blocks(x, mask=mask)) * present[..., None]


@register_model("sasrec")
class SASRec(SequenceModel):
    """Transformer blocks with a causal mask and learned positions."""

    display_order = 40

    Params = SASRecParams
    # every emb_dim of the space is divisible by every head count
    search_space = {**TRAIN_SPACE, "blocks": Int(1, 3), "heads": Choice((1, 2, 4))}

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return SASRecEncoder(self.params, seq_len)
