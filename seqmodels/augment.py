"""Sequence augmentations for contrastive views (CL4SRec), on left-padded [B, L] id tensors.

Each works row by row on the row's real items (n of them), keeps the result left-padded and
draws from torch's generator, so a seeded fit stays deterministic. The third augmentation,
masking, is BERT4Rec's cloze masking (`seqmodels.bert4rec.mask_items`), reused as it is.

    crop     0 0 a b c d e  ->  0 0 0 0 b c d     a random run of ceil(keep * n) items
    reorder  0 0 a b c d e  ->  0 0 a d b c e     a random run of ceil(share * n) items shuffled
"""

from __future__ import annotations

import torch

from protocols.types import PAD


def _run(sequences: torch.Tensor, share: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A random contiguous run of ceil(share * n) real items per row: [B, L] masks
    (inside the run, and the row's real items)."""
    b, length = sequences.shape
    present = sequences != PAD
    n = present.sum(dim=1)  # [B]
    size = torch.ceil(share * n).long().clamp(min=1)
    size = torch.minimum(size, n)
    first = length - n  # the first real column of each row (left padding)
    offset = (torch.rand(b, device=sequences.device) * (n - size + 1)).long()
    start = first + torch.minimum(offset, n - size)
    columns = torch.arange(length, device=sequences.device)[None]
    inside = (columns >= start[:, None]) & (columns < (start + size)[:, None])
    return inside & present, present


def crop(sequences: torch.Tensor, keep: float) -> torch.Tensor:
    """Keep a random run of ceil(keep * n) items of each row, moved to the right end."""
    inside, _ = _run(sequences, keep)
    kept = torch.where(inside, sequences, PAD)
    # a stable sort on "is padding" puts the padding first and keeps the items' order
    order = torch.argsort((kept != PAD).long(), dim=1, stable=True)
    return kept.gather(1, order)


def reorder(sequences: torch.Tensor, share: float) -> torch.Tensor:
    """Shuffle the items inside a random run of ceil(share * n) items of each row."""
    inside, _ = _run(sequences, share)
    length = sequences.shape[1]
    columns = torch.arange(length, device=sequences.device).expand_as(sequences)
    # columns outside the run keep their place; inside it they are sorted by a random key
    keys = torch.where(inside, torch.rand(sequences.shape, device=sequences.device), 0.0)
    run_start = torch.where(inside, columns, length).amin(dim=1, keepdim=True)
    slot = torch.where(inside, run_start.float() + keys, columns.float())
    order = torch.argsort(slot, dim=1, stable=True)
    return sequences.gather(1, order)
