"""`sampled-ce-position`: the sampled softmax with negatives of its own for every position.

`sampled-ce` draws one set of K negatives per batch and scores every position against it; this
loss draws K for each position ([M, K], with replacement from the same q), as RecTools (the
library of the eSASRec authors) does. The logQ correction and the removal of a negative that
is the position's own positive are `sampled-ce`'s. It scores every item at every position
and keeps each position's K, so an epoch costs about what the full softmax's (`ce`) does, where
`sampled-ce` scores K items (docs/reproduction.md has eSASRec's epochs on Beauty).

A module of its own, so that the trainer's losses (`seqmodels.losses`, part of every deep
model's code fingerprint) stay as they are; a run that selects this loss has this module in its
fingerprint (`benchmark.models.code_fingerprint`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seqmodels.losses import SampledSoftmax, register_loss


@register_loss("sampled-ce-position")
class PerPositionSampledSoftmax(SampledSoftmax):
    """Softmax over the positive and K negatives drawn for that position from q, logQ-corrected."""

    def draw_per_row(self, rows: int, device: torch.device) -> torch.Tensor:
        """[rows, K] items drawn with replacement from q."""
        if self.uniform:
            return torch.randint(1, self.n_items + 1, (rows, self.k), device=device)
        return torch.multinomial(self.q.to(device), rows * self.k, replacement=True).view(rows, -1)

    def __call__(self, net, states: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        negatives = self.draw_per_row(len(positives), states.device)  # [M, K]
        pos = (states * net.items(positives)).sum(-1).float()  # [M]
        # every item scored, then each row's K picked: a matrix product is far cheaper on the
        # CPU than gathering M x K embeddings (8x at ML-1M's shape), at [M, n_items] memory
        neg = net.item_scores(states).gather(1, negatives).float()  # [M, K]
        neg = neg - torch.log(self.k * self.q.to(neg.device)[negatives])
        neg = neg.masked_fill(negatives == positives[:, None], -math.inf)
        logits = torch.cat([pos[:, None], neg], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(positives))
