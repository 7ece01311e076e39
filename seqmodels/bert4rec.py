"""BERT4Rec: bidirectional self-attention trained by masked item prediction (Sun et al. 2019).

Training hides a random share `mask_prob` of each window's items behind a [MASK] embedding
and predicts them from both sides (a cloze task); every row has at least one hidden item and
padding is never hidden. At scoring time a [MASK] is appended after the user's last item and
its state scores the next item, the question every other model answers.

    window  0 0 a b c d        (a training window: the inputs and the last target)
    train   0 0 a M c M  ->  predict b and d at the masked positions
    score   0 a b c d M  ->  the state at M scores every item
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Choice, Float, Int
from protocols.types import PAD
from seqmodels.attention import readable_keys
from seqmodels.base import TRAIN_SPACE, SequenceModel, TrainParams, check_attention

MASK = -1  # id of the [MASK] token in the sequences this file builds (never a real item)


@dataclasses.dataclass(frozen=True)
class BERT4RecParams(TrainParams):
    blocks: int = 2
    heads: int = 2
    mask_prob: float = 0.2  # share of items hidden per window (Sun et al.: 0.2 on ML-1M)
    patience: int = 10  # the cloze task's validation curve is noisier and slower than SASRec's
    losses = ("ce", "sampled-ce")  # the cloze task is a softmax over items

    def __post_init__(self) -> None:
        super().__post_init__()
        check_attention(self)
        require(0 < self.mask_prob <= 1, f"mask_prob must be in (0, 1], got {self.mask_prob}")


class BERT4RecEncoder(nn.Module):
    """Transformer blocks without a causal mask; keys are the real items and [MASK]s."""

    def __init__(self, p: BERT4RecParams, positions: int) -> None:
        super().__init__()
        self.heads = p.heads
        self.mask_token = nn.Parameter(torch.randn(p.emb_dim) * p.emb_dim**-0.5)
        self.positions = nn.Embedding(positions, p.emb_dim)
        layer = nn.TransformerEncoderLayer(
            p.emb_dim,
            p.heads,
            dim_feedforward=4 * p.emb_dim,
            dropout=p.dropout,
            batch_first=True,
            norm_first=True,
            activation="gelu",
        )
        self.blocks = nn.TransformerEncoder(layer, p.blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(p.emb_dim)

    def forward(self, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        b, length, d = embedded.shape
        x = embedded * d**0.5 + self.positions.weight[-length:]  # [B, L, d]; right-aligned
        x = x * present[..., None]
        allowed = readable_keys(present, causal=False)  # every real item and itself
        mask = (~allowed).repeat_interleave(self.heads, dim=0)  # [B * heads, L, L]
        return self.norm(self.blocks(x, mask=mask)) * present[..., None]


def masked_states(net: nn.Module, sequences: torch.Tensor) -> torch.Tensor:
    """[B, L] ids with MASK allowed -> [B, L, d] encoder states, a masked position embedded
    as the encoder's `mask_token` (BERT4Rec's cloze inputs, CL4SRec's masked views)."""
    hidden = (sequences == MASK)[..., None]
    embedded = net.items(sequences.clamp(min=PAD))  # [B, L, d]
    embedded = torch.where(hidden, net.encoder.mask_token.to(embedded.dtype), embedded)
    return net.encoder(net.input_dropout(embedded), sequences != PAD)


def mask_items(sequences: torch.Tensor, prob: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide items for the cloze task: ([B, L] inputs with MASK, [B, L] hidden items or PAD).

    Each real item is hidden with probability `prob`; a row where none was drawn hides its
    last item. Padding is never hidden.
    """
    present = sequences != PAD
    hidden = (torch.rand(sequences.shape, device=sequences.device) < prob) & present
    none = ~hidden.any(dim=1)  # [B]
    hidden[:, -1] |= none & present[:, -1]  # left-padded: the last column is the last item
    return sequences.masked_fill(hidden, MASK), torch.where(hidden, sequences, PAD)


@register_model("bert4rec")
class BERT4Rec(SequenceModel):
    """Bidirectional Transformer over item sequences, trained to fill in hidden items."""

    display_order = 50

    Params = BERT4RecParams
    # every emb_dim of the space is divisible by every head count
    search_space = {
        **TRAIN_SPACE,
        "blocks": Int(1, 3),
        "heads": Choice((1, 2, 4)),
        "mask_prob": Float(0.1, 0.6),
    }

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        return BERT4RecEncoder(self.params, seq_len + 1)  # a window and the appended [MASK]

    def _states(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, L] ids (MASK allowed) -> [B, L, d] bidirectional states."""
        return masked_states(self.net_, sequences)

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor, loss) -> torch.Tensor:
        window = torch.cat([inputs, targets[:, -1:]], dim=1)  # [B, L + 1]: every item once
        masked, hidden = mask_items(window, self.params.mask_prob)
        states = self._states(masked)  # [B, L + 1, d]
        chosen = hidden != PAD
        return loss(self.net_, states[chosen], hidden[chosen])

    def last_state(self, sequences: torch.Tensor) -> torch.Tensor:
        appended = torch.full_like(sequences[:, :1], MASK)
        return self._states(torch.cat([sequences, appended], dim=1))[:, -1]  # [B, d]
