"""Item popularity from the training data: counts, the short head and popularity bands (the
penalty α is the `pop-penalty` re-ranker, `protocols.rerank.penalty`).

pop(i) is the number of training interactions of item i (`item_popularity`).
"""

from __future__ import annotations

import numpy as np

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


def head_share(histories: Histories, head: np.ndarray) -> np.ndarray:
    """[R] the share of each row's items in the short head (`head` [n_items + 1]); 0 when empty."""
    lengths = histories.lengths
    rows = np.repeat(np.arange(histories.n_rows), lengths)
    hits = np.bincount(rows, weights=head[histories.items], minlength=histories.n_rows)
    return hits / np.maximum(lengths, 1)
