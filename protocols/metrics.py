"""Ranking metrics as pure functions of the targets' pessimistic ranks (0 = best).

`ranks` is [U, T]: T targets per user, each ranked against every other candidate with
ties counted against it. Every function returns one value per user.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def hit_rate(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 if any target is in the top k."""
    return (ranks < k).any(axis=1).astype(np.float64)


def recall(ranks: np.ndarray, k: int) -> np.ndarray:
    """Targets in the top k divided by the number of targets (= HR@k with one target)."""
    return (ranks < k).sum(axis=1) / ranks.shape[1]


def ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    """DCG of the targets in the top k over the ideal DCG of T relevant items."""
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    ideal = (1.0 / np.log2(np.arange(min(ranks.shape[1], k)) + 2.0)).sum()
    return gains.sum(axis=1) / ideal


def mrr(ranks: np.ndarray) -> np.ndarray:
    """Reciprocal rank of the best-ranked target, not truncated."""
    return 1.0 / (ranks.min(axis=1) + 1.0)


AT_K: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "Recall": recall,
    "HR": hit_rate,
    "NDCG": ndcg,
}
WHOLE_LIST: dict[str, Callable[[np.ndarray], np.ndarray]] = {"MRR": mrr}


def per_user(ranks: np.ndarray, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """{"HR@10": [U] values, ..., "MRR": [U]} for every metric and cut-off."""
    values = {f"{name}@{k}": fn(ranks, k) for name, fn in AT_K.items() for k in ks}
    values.update({name: fn(ranks) for name, fn in WHOLE_LIST.items()})
    return values


def summarise(ranks: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """Means over users of every metric."""
    return {name: float(v.mean()) for name, v in per_user(ranks, ks).items()}
