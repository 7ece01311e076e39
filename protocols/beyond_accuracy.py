"""Beyond-accuracy figures of the full-ranking top-K lists of all users.

`top` is [U, >= K] item ids, best first, -1 in the slots of a user with fewer candidates
than the list is long (those slots count nowhere); `pop` is training popularity
[n_items + 1]; `head` marks the short head (`protocols.popularity.short_head`).
"""

from __future__ import annotations

import numpy as np


def coverage(top: np.ndarray, k: int, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's top k."""
    t = top[:, :k]
    return len(np.unique(t[t > 0])) / n_items


def long_tail_share(top: np.ndarray, k: int, head: np.ndarray) -> float:
    """Share of the filled recommended slots (users x k) that hold items outside the short head."""
    t = top[:, :k]
    filled = t[t > 0]
    return float((~head[filled]).mean()) if filled.size else 0.0


def average_popularity(top: np.ndarray, k: int, pop: np.ndarray) -> float:
    """ARP@k: mean over users (with a non-empty list) of the mean training popularity of their
    top-k items."""
    t = top[:, :k]
    filled = t > 0
    counts = filled.sum(axis=1)
    sums = np.where(filled, pop[np.maximum(t, 0)], 0).sum(axis=1)
    users = counts > 0
    return float((sums[users] / counts[users]).mean()) if users.any() else 0.0


def gini(top: np.ndarray, k: int, n_items: int) -> float:
    """Gini index of how often each item is recommended (never-recommended items count as 0):
    0 when every item is recommended equally often, (n - 1) / n when one item takes every slot."""
    t = top[:, :k]
    counts = np.sort(np.bincount(t[t > 0], minlength=n_items + 1)[1:])  # ascending
    total = counts.sum()
    if total == 0:
        return 0.0
    i = np.arange(1, n_items + 1)
    return float(((2 * i - n_items - 1) * counts).sum() / (n_items * total))


def top_items_share(top: np.ndarray, k: int, n_items: int, fraction: float) -> float:
    """Share of the filled slots that go to the most recommended `fraction` of the catalogue
    (at least one item): how concentrated exposure is, where coverage only counts presence."""
    t = top[:, :k]
    counts = np.sort(np.bincount(t[t > 0], minlength=n_items + 1)[1:])[::-1]  # descending
    total = counts.sum()
    return float(counts[: max(1, round(fraction * n_items))].sum() / total) if total else 0.0


def summarise_lists(
    top: np.ndarray, ks: tuple[int, ...], pop: np.ndarray, head: np.ndarray
) -> dict[str, float]:
    """{"coverage@10": ..., "long_tail@10": ..., "ARP@10": ..., "Gini@10": ...,
    "top1%_share@10": ..., "top10%_share@10": ...} per k <= list length."""
    n_items = len(pop) - 1
    out = {}
    for k in (k for k in ks if k <= top.shape[1]):
        out[f"coverage@{k}"] = coverage(top, k, n_items)
        out[f"long_tail@{k}"] = long_tail_share(top, k, head)
        out[f"ARP@{k}"] = average_popularity(top, k, pop)
        out[f"Gini@{k}"] = gini(top, k, n_items)
        for fraction in (0.01, 0.1):
            out[f"top{fraction:.0%}_share@{k}"] = top_items_share(top, k, n_items, fraction)
    return out
