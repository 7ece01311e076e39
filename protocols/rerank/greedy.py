"""Per-user greedy list re-rankers over popularity groups: `calibrated` and `xquad`.

Both fill a list of `LIST_LENGTH` slots one at a time from the user's best `POOL` candidates.
An item's worth depends on its standardised score and on its popularity group only, so each
step compares, per group, the best item not yet taken (the pool is sorted best first):
vectorised over the batch, `LIST_LENGTH x groups` small passes.
"""

from __future__ import annotations

import numpy as np
import torch

from protocols.popularity import popularity_bands, short_head
from protocols.rerank import (
    LIST_LENGTH,
    Reranker,
    Strength,
    best_items,
    lift,
    register_reranker,
    standardise,
)
from protocols.types import UserBatch

POOL = 200  # candidates per user the greedy lists are drawn from
SMOOTHING = 0.01  # Steck's a: q~ = (1 - a) q + a p keeps KL finite
LAMBDA = Strength(
    "lambda",
    0.0,
    1.0,
    (0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.99),
    meaning="weight of the group term against the standardised score (0: the model's list)",
)


class GroupGreedy(Reranker):
    """Greedy by (1 - λ) z(i) + λ gain(group of i | the list so far); `groups` [n_items + 1]
    numbers each item's group (0 .. n_groups - 1; padding -1)."""

    strength = LAMBDA
    groups: np.ndarray
    n_groups: int

    def gains(self, wanted: torch.Tensor, counts: torch.Tensor, size: int) -> torch.Tensor:
        """[B, G] the group term of adding one item of each group to lists holding `counts`
        [B, G] items per group (`size` in all); `wanted` [B, G] the user's group shares."""
        raise NotImplementedError

    def __call__(self, scores: torch.Tensor, allowed: torch.Tensor, batch: UserBatch):
        if self.value == 0:
            return scores
        device = scores.device
        z = standardise(scores.double(), allowed)
        pool = best_items(z, allowed, POOL)  # [B, C]
        real = pool > 0
        pool_z = torch.where(real, z.gather(1, pool.clamp(min=0)), -torch.inf)
        groups = torch.as_tensor(self.groups, device=device)
        pool_group = torch.where(real, groups[pool.clamp(min=0)], -1)
        wanted = self.shares(batch, device)  # [B, G]
        b, g = wanted.shape
        taken = torch.zeros_like(real)
        counts = torch.zeros(b, g, dtype=torch.float64, device=device)
        lists = torch.full((b, LIST_LENGTH), -1, dtype=torch.long, device=device)
        rows = torch.arange(b, device=device)
        for slot in range(min(LIST_LENGTH, pool.shape[1])):
            free = real & ~taken
            first = torch.stack(
                [(free & (pool_group == k)).int().argmax(dim=1) for k in range(g)], dim=1
            )  # [B, G] position of each group's best free item (0 when none)
            exists = torch.stack([(free & (pool_group == k)).any(dim=1) for k in range(g)], 1)
            worth = (1 - self.value) * pool_z.gather(1, first) + self.value * self.gains(
                wanted, counts, slot
            )
            worth = torch.where(exists, worth, -torch.inf)
            group = worth.argmax(dim=1)  # [B]
            found = exists[rows, group]
            position = first[rows, group]
            lists[:, slot] = torch.where(found, pool[rows, position], -1)
            taken[rows[found], position[found]] = True
            counts[rows[found], group[found]] += 1
        return lift(scores, lists)

    def shares(self, batch: UserBatch, device) -> torch.Tensor:
        """[B, G] the share of each user's input history in each group (uniform when empty)."""
        h = batch.history
        rows = np.repeat(np.arange(len(batch)), np.diff(h.indptr))
        counts = np.zeros((len(batch), self.n_groups))
        np.add.at(counts, (rows, self.groups[h.indices]), 1.0)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.where(totals > 0, counts / np.maximum(totals, 1), 1.0 / self.n_groups)
        return torch.as_tensor(shares, device=device)


@register_reranker("calibrated")
class Calibrated(GroupGreedy):
    """Calibrated popularity (Steck, RecSys 2018; Abdollahpouri et al., UMAP 2021): the list's
    shares of the head (the most popular items making up 20% of training interactions), mid
    and tail (the least popular making up the last 20%) kept close to the user's history:
    greedy on (1 - λ) Σ z - λ KL(p_user || q~_list), q~ smoothed with a = 0.01."""

    def __init__(self, strength: float, popularity: np.ndarray, seed: int = 0) -> None:
        super().__init__(strength, popularity, seed)
        bands = popularity_bands(self.popularity, 5)  # fifths of interactions
        self.groups = np.where(bands <= 0, bands, np.where(bands == 4, 2, 1))  # head, mid, tail
        self.n_groups = 3

    def gains(self, wanted: torch.Tensor, counts: torch.Tensor, size: int) -> torch.Tensor:
        after = (counts[:, None, :] + torch.eye(self.n_groups, device=counts.device)) / (size + 1)
        q = (1 - SMOOTHING) * after + SMOOTHING * wanted[:, None, :]  # [B, G added, G]
        p = wanted[:, None, :]
        kl = torch.where(p > 0, p * torch.log(p / q), torch.zeros_like(q)).sum(dim=2)
        return -kl  # [B, G]


@register_reranker("xquad")
class XQuAD(GroupGreedy):
    """Popularity-aware xQuAD (Abdollahpouri, Burke and Mobasher, FLAIRS 2019), the smooth
    variant: the short head and the long tail are two aspects, P(aspect | user) the share of
    the user's history in it; an item of aspect c gains λ P(c | u) (1 - share of c in the
    list so far), the whole P(c | u) while the list is empty."""

    def __init__(self, strength: float, popularity: np.ndarray, seed: int = 0) -> None:
        super().__init__(strength, popularity, seed)
        head = short_head(self.popularity)
        self.groups = np.where(head, 0, 1)
        self.groups[0] = -1
        self.n_groups = 2

    def gains(self, wanted: torch.Tensor, counts: torch.Tensor, size: int) -> torch.Tensor:
        covered = counts / size if size else torch.zeros_like(counts)
        return wanted * (1 - covered)
