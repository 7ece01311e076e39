"""Negative sampling: items a user never interacted with, uniform or popularity-proportional.

Draws are i.i.d. from the sampler's distribution over all items; items the user has seen and
repeats are rejected and the first n survivors kept. That is exactly sampling without
replacement from the user's unseen items (successive sampling when weighted), and it is
vectorised over users. Rows that run short draw more, continuing the same sequence.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from protocols.data import item_popularity
from protocols.errors import InputError
from protocols.types import Histories, Interactions, Split

SAMPLERS = ("uniform", "popularity")
_ROWS_PER_CHUNK_CELLS = 32_000_000  # dense seen-mask cells per chunk (bytes of memory)


def item_weights(sampler: str, train: Histories, n_items: int) -> np.ndarray:
    """[n_items + 1] sampling weights; padding gets 0. `popularity` uses training counts."""
    if sampler == "uniform":
        weights = np.ones(n_items + 1)
    elif sampler == "popularity":
        weights = item_popularity(train, n_items)
    else:
        raise InputError(f"unknown negative sampler {sampler!r}; known: {', '.join(SAMPLERS)}")
    weights[0] = 0.0
    return weights


def sample_negatives(
    seen: sp.csr_matrix, n: int, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """[U, n] int64: for each row of `seen` ([U, n_items + 1]), n distinct items outside it.

    Only items with positive weight can be drawn. Raises InputError when a row has fewer
    than n such items.
    """
    seen = sp.csr_matrix(seen, dtype=bool)
    positive = weights > 0
    available = positive.sum() - (seen[:, positive].sum(axis=1).A1 if n > 0 else 0)
    if n > 0 and (available < n).any():
        worst = int(np.argmin(available))
        raise InputError(
            f"--num-negatives {n} is more than the {int(available[worst])} unseen items "
            f"a user has (row {worst}); use fewer negatives"
        )
    out = np.zeros((seen.shape[0], n), dtype=np.int64)
    if n == 0 or seen.shape[0] == 0:
        return out
    cdf = np.cumsum(weights / weights.sum())
    rows_per_chunk = max(1, _ROWS_PER_CHUNK_CELLS // seen.shape[1])
    for start in range(0, seen.shape[0], rows_per_chunk):
        chunk = seen[start : start + rows_per_chunk].toarray()  # [C, n_items + 1] bool
        out[start : start + len(chunk)] = _sample_chunk(chunk, n, cdf, available, rng)
    return out


def _sample_chunk(
    seen: np.ndarray, n: int, cdf: np.ndarray, available: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    out = np.zeros((len(seen), n), dtype=np.int64)
    todo = np.arange(len(seen))
    draws = np.empty((len(seen), 0), dtype=np.int64)
    budget = 2 * n + 16
    while len(todo):
        more = np.searchsorted(cdf, rng.random((len(todo), budget)), side="right")
        draws = np.concatenate([draws, np.minimum(more, len(cdf) - 1)], axis=1)  # [R, D]
        keep = ~seen[todo[:, None], draws] & _first_occurrence(draws)
        done = keep.sum(axis=1) >= n
        first_n = keep[done] & (np.cumsum(keep[done], axis=1) <= n)
        out[todo[done]] = draws[done][first_n].reshape(-1, n)  # row-major: draw order kept
        todo, draws = todo[~done], draws[~done]
        budget = draws.shape[1]  # double the sequence for the rows still short
    return out


def _first_occurrence(draws: np.ndarray) -> np.ndarray:
    """[R, D] bool: True where the value has not appeared earlier in its row."""
    order = np.argsort(draws, axis=1, kind="stable")
    ordered = np.take_along_axis(draws, order, axis=1)
    first = np.ones_like(draws, dtype=bool)
    first_sorted = np.concatenate(
        [np.ones((len(draws), 1), dtype=bool), ordered[:, 1:] != ordered[:, :-1]], axis=1
    )
    np.put_along_axis(first, order, first_sorted, axis=1)
    return first


def draw_candidates(
    data: Interactions, split: Split, n: int, sampler: str, seed: int
) -> np.ndarray:
    """[n_users, n] sampled negatives for every evaluated user (rows of other users are 0).

    Negatives exclude the user's whole history (training, validation and test items), so a
    held-out item is never a negative. One array serves both validation and test.
    """
    users = np.union1d(split.valid.users, split.test.users)
    weights = item_weights(sampler, split.train, data.n_items)
    seen = data.histories.take(users).to_csr(data.n_items + 1)
    rng = np.random.default_rng([seed, 0x5EED])  # a stream of its own, independent of training
    negatives = np.zeros((data.n_users, n), dtype=np.int64)
    negatives[users] = sample_negatives(seen, n, weights, rng)
    return negatives
