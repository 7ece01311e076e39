"""CL4SRec (Xie et al., ICDE 2022): SASRec with a contrastive task over two random
augmentations of each training sequence.

Follows the paper: each view applies one augmentation drawn uniformly from crop (keep a run of
eta = 0.6 of the items), mask (hide a share gamma = 0.3 behind a learned [mask] embedding) and
reorder (shuffle a run of beta = 0.6 of the items); the two views' last-position
representations are contrasted with in-batch negatives (dot products, tau = 1) and the term is
added with weight lambda = 0.1 to the next-item loss. Changes: the augmentations act on the
training windows the trainer builds (the paper augments the whole history); the next-item loss
covers every position of a window (as for `sasrec`); masking hides each item with probability
gamma (at least one), BERT4Rec's cloze masking reused (`seqmodels.bert4rec.mask_items`), where
the paper hides exactly floor(gamma n). The rates are the paper's worked example; it tunes them
per data set, and they are in the search space.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from protocols.errors import require
from protocols.registry import register_model
from protocols.search_space import Float
from seqmodels.augment import crop, reorder
from seqmodels.bert4rec import mask_items, masked_states
from seqmodels.contrastive import ContrastiveParams, ContrastiveSASRec


@dataclasses.dataclass(frozen=True)
class CL4SRecParams(ContrastiveParams):
    crop: float = 0.6  # eta: share of the items a crop keeps
    mask: float = 0.3  # gamma: probability that mask hides an item
    reorder: float = 0.6  # beta: share of the items a reorder shuffles

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("crop", "mask", "reorder"):
            value = getattr(self, name)
            require(0 < value <= 1, f"{name} must be in (0, 1], got {value}")


@register_model("cl4srec")
class CL4SRec(ContrastiveSASRec):
    """SASRec with contrastive learning over crop, mask and reorder augmentations."""

    display_order = 47
    Params = CL4SRecParams
    code_modules = (*ContrastiveSASRec.code_modules, "seqmodels.augment", "seqmodels.bert4rec")
    search_space = {
        **ContrastiveSASRec.search_space,
        "crop": Float(0.2, 0.9),
        "mask": Float(0.1, 0.7),
        "reorder": Float(0.1, 0.9),
    }

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        encoder = super().build_encoder(n_items, seq_len)
        d = self.params.emb_dim
        encoder.mask_token = nn.Parameter(torch.randn(d) * d**-0.5)  # as the item embeddings
        return encoder

    def augment(self, sequences: torch.Tensor) -> torch.Tensor:
        """Each row through one augmentation drawn uniformly from crop, mask and reorder."""
        p = self.params
        choices = torch.stack(
            [
                crop(sequences, p.crop),
                mask_items(sequences, p.mask)[0],
                reorder(sequences, p.reorder),
            ]
        )  # [3, B, L]
        pick = torch.randint(0, 3, (len(sequences),), device=sequences.device)
        return choices[pick, torch.arange(len(sequences), device=sequences.device)]

    def view_state(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, L] ids, MASK allowed -> [B, d] last-position states."""
        return masked_states(self.net_, sequences)[:, -1]

    def views(self, inputs, targets, states):
        return self.view_state(self.augment(inputs)), self.view_state(self.augment(inputs)), None
