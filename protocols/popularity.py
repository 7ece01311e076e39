"""Item popularity from the training data: counts, the short head, popularity bands and the
penalty α (a score transform for `protocols.evaluate.rank_targets`).

pop(i) is the number of training interactions of item i (`item_popularity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from protocols.types import Histories

HEAD_SHARE = 0.2  # the short head holds the most popular items making up 20% of interactions


def item_popularity(train: Histories, n_items: int) -> np.ndarray:
    """pop(i): training interactions of each item (repeats count), float64 [n_items + 1]; pop(0) = 0."""
    counts = np.bincount(train.items, minlength=n_items + 1).astype(np.float64)
    counts[0] = 0.0  # padding is never an interaction
    return counts


def _by_popularity(pop: np.ndarray) -> np.ndarray:
    """Real items (1..n) from most to least popular; equal counts by item id (stable)."""
    return 1 + np.argsort(-pop[1:], kind="stable")


def popularity_bands(pop: np.ndarray, n_bands: int = 5) -> np.ndarray:
    """[n_items + 1] band of each item, 0 = most popular: band b holds the items that make up
    the b-th 1/n_bands share of training interactions, walking from the most popular item.

    With n_bands = 5, band 0 is exactly the short head (see `short_head`); items without any
    training interaction are in the last band; padding gets -1.
    """
    order = _by_popularity(pop)
    total = pop[order].sum()
    if total <= 0:
        bands = np.full(len(pop), n_bands - 1)
        bands[0] = -1
        return bands
    before = np.cumsum(pop[order]) - pop[order]  # interactions of the more popular items
    band_of_sorted = np.minimum((before / total * n_bands).astype(np.int64), n_bands - 1)
    bands = np.empty(len(pop), dtype=np.int64)
    bands[order] = band_of_sorted
    bands[0] = -1
    return bands


def short_head(pop: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """[n_items + 1] bool: the most popular items that together make up `share` of training
    interactions (the item that crosses the threshold included); everything else is long tail."""
    order = _by_popularity(pop)
    total = pop[order].sum()
    before = np.cumsum(pop[order]) - pop[order]
    head = np.zeros(len(pop), dtype=bool)
    head[order[before < share * total]] = True
    return head


def standardised_log_popularity(pop: np.ndarray) -> np.ndarray:
    """z(i) = standardised log(1 + pop(i)) over the real items; float32 [n_items + 1]."""
    logs = np.log1p(pop[1:])
    spread = logs.std()
    z = np.zeros(len(pop), dtype=np.float32)
    z[1:] = (logs - logs.mean()) / (spread if spread > 0 else 1.0)
    return z


def penalise(
    scores: torch.Tensor, candidates: torch.Tensor, pop_z: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Per-user standardised scores minus α × z(i): one α is one strength for every model.

    `scores` [B, C], `candidates` [B, C] bool (each user's full-ranking candidates: mean and
    standard deviation are taken over these), `pop_z` [C]. α = 0 returns `scores` itself.
    """
    if alpha == 0:
        return scores
    n = candidates.sum(dim=1, keepdim=True).clamp(min=1)  # [B, 1]
    kept = torch.where(
        candidates, scores, torch.zeros((), dtype=scores.dtype, device=scores.device)
    )
    mean = kept.sum(dim=1, keepdim=True) / n
    spread = (
        (torch.where(candidates, scores - mean, 0.0) ** 2).sum(dim=1, keepdim=True) / n
    ).sqrt()
    spread = torch.where(spread > 0, spread, torch.ones_like(spread))  # constant scores stay 0
    return (scores - mean) / spread - alpha * pop_z[None, :]


@dataclass(frozen=True, eq=False)
class PopularityPenalty:
    """The score transform `penalise(scores, allowed, pop_z, alpha)` for `rank_targets`.

    `pop_z` is the standardised log popularity [n_items + 1] (`standardised_log_popularity`).
    """

    pop_z: np.ndarray
    alpha: float

    def __call__(self, scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        pop_z = torch.as_tensor(self.pop_z, device=scores.device)
        return penalise(scores, allowed, pop_z, self.alpha)
