"""A seeded synthetic data set with real sequential structure.

Items are split into clusters (which double as genres). Every user walks through the clusters:
at each step they stay in their current cluster with probability `stay_probability`, otherwise they
move on to the next one (k -> k+1 mod n_clusters). Inside a cluster, items are drawn by a Zipf-like
popularity. So the next item depends on the recent ones: a sequence model can learn "same or next
cluster", while a popularity ranking cannot.

Everything is vectorised over users and interactions; all randomness comes from
`np.random.default_rng(seed)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from protocols.errors import InputError
from protocols.types import RawData

_START_TIME = 1_000_000_000  # seconds since the epoch (September 2001)
_START_SPREAD = 3 * 365 * 86_400  # users start at a uniform time within three years
_MEAN_GAP = 86_400  # mean seconds between a user's consecutive events
_LENGTH_SIGMA = 0.75  # log-normal spread of user lengths around the mean
_REDRAW_ROUNDS = 50


class _ClusterSampler:
    """Draws items inside given clusters, proportionally to their popularity weight."""

    def __init__(self, item_cluster: np.ndarray, weights: np.ndarray, n_clusters: int) -> None:
        self.order = np.argsort(item_cluster, kind="stable")  # 0-based items grouped by cluster
        self.cum = np.cumsum(weights[self.order])
        bounds = np.searchsorted(item_cluster[self.order], np.arange(n_clusters + 1))
        self.first, self.last = bounds[:-1], bounds[1:] - 1  # inclusive positions per cluster
        self.low = self.cum[self.first] - weights[self.order[self.first]]
        self.high = self.cum[self.last]

    def draw(self, rng: np.random.Generator, clusters: np.ndarray) -> np.ndarray:
        """One item id (1-based) per entry of `clusters`."""
        low, high = self.low[clusters], self.high[clusters]
        target = low + rng.random(len(clusters)) * (high - low)
        pos = np.searchsorted(self.cum, target, side="right")
        pos = np.clip(pos, self.first[clusters], self.last[clusters])
        return self.order[pos].astype(np.int64) + 1


def generate(
    n_users: int = 1000,
    n_items: int = 500,
    n_clusters: int = 20,
    mean_length: float = 50,
    min_length: int = 5,
    zipf_exponent: float = 1.0,
    stay_probability: float = 0.7,
    seed: int = 0,
    max_length: int | None = None,
) -> RawData:
    """Interactions (user, item, timestamp) of `n_users` users over items 1..n_items.

    User lengths are log-normal around `mean_length`, at least `min_length` and at most
    `max_length` (default n_items // 2). A repeated (user, item) draw is redrawn from the same
    cluster (the first occurrence stays); only a user who has exhausted a cluster ends up with
    a dropped repeat, so lengths stay as drawn almost always. Users and items ids start at 1.
    """
    options = dict(n_users=n_users, n_items=n_items, n_clusters=n_clusters)
    options.update(mean_length=mean_length, min_length=min_length, max_length=max_length)
    options.update(zipf_exponent=zipf_exponent, stay_probability=stay_probability, seed=seed)
    _check(options)
    if max_length is None:
        options["max_length"] = max_length = max(min_length, n_items // 2)
    rng = np.random.default_rng(seed)
    item_cluster = rng.permutation(np.arange(n_items) % n_clusters)  # [n_items], balanced
    weights = (rng.permutation(n_items) + 1.0) ** -zipf_exponent  # Zipf by a random rank
    sampler = _ClusterSampler(item_cluster, weights, n_clusters)

    lengths = _lengths(rng, n_users, mean_length, min_length, max_length)  # [n_users]
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    users = np.repeat(np.arange(n_users, dtype=np.int64), lengths)  # [N]
    clusters = _cluster_walks(rng, users, indptr, n_clusters, stay_probability)  # [N]
    items = sampler.draw(rng, clusters)  # [N]
    keep = _redraw_repeats(rng, users, clusters, items, sampler, n_items)
    timestamps = _timestamps(rng, users, indptr)  # [N]

    columns = {"user": users[keep] + 1, "item": items[keep], "timestamp": timestamps[keep]}
    frame = pd.DataFrame(columns, copy=False)  # fresh arrays: no need to copy them again
    source = "synthetic:" + ",".join(f"{key}={value}" for key, value in options.items())
    return RawData("synthetic", frame, _item_table(item_cluster, n_clusters), source)


def _check(options: dict) -> None:
    whole = ("n_users", "n_items", "n_clusters", "min_length", "seed", "max_length")
    problems = [
        f"{name} must be a whole number, got {options[name]}"
        for name in whole
        if options[name] is not None and not isinstance(options[name], int | np.integer)
    ]
    if problems:
        raise InputError("synthetic data: " + "; ".join(problems))
    n_items, n_clusters = options["n_items"], options["n_clusters"]
    mean, minimum = options["mean_length"], options["min_length"]
    if min(options["n_users"], n_items, n_clusters) < 1 or options["seed"] < 0:
        problems.append("n_users, n_items and n_clusters must be at least 1, seed at least 0")
    if n_clusters > n_items:
        problems.append(f"n_clusters ({n_clusters}) cannot exceed n_items ({n_items})")
    if minimum < 1 or mean < minimum or (options["max_length"] or minimum) < minimum:
        problems.append(f"need 1 <= min_length ({minimum}) <= mean_length ({mean}), max_length")
    if options["zipf_exponent"] < 0:
        problems.append(f"zipf_exponent must be >= 0, got {options['zipf_exponent']}")
    if not 0 <= options["stay_probability"] <= 1:
        problems.append(f"stay_probability must be in [0, 1], got {options['stay_probability']}")
    if problems:
        raise InputError("synthetic data: " + "; ".join(problems))


def _cluster_walks(
    rng: np.random.Generator, users: np.ndarray, indptr: np.ndarray, n_clusters: int, stay: float
) -> np.ndarray:
    """Each user's cluster at each step: start anywhere, then stay or move to the next one."""
    moves = (rng.random(len(users)) >= stay).astype(np.int64)  # [N]
    moves[indptr[:-1]] = 0  # a user's first step makes no move
    start = rng.integers(0, n_clusters, indptr.size - 1)  # [n_users]
    return (start[users] + _cumsum_within(moves, indptr)) % n_clusters


def _timestamps(rng: np.random.Generator, users: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """A random start per user plus positive random gaps: strictly increasing within a user."""
    gaps = 1 + rng.exponential(_MEAN_GAP, len(users)).astype(np.int64)  # [N]
    gaps[indptr[:-1]] = 0
    start = _START_TIME + rng.integers(0, _START_SPREAD, indptr.size - 1)  # [n_users]
    return start[users] + _cumsum_within(gaps, indptr)


def _lengths(
    rng: np.random.Generator, n_users: int, mean: float, minimum: int, maximum: int
) -> np.ndarray:
    """Log-normal lengths whose mean is about `mean`, clipped to [minimum, maximum]."""
    extra = mean - minimum
    if extra <= 0:
        return np.full(n_users, minimum, dtype=np.int64)
    mu = np.log(extra) - _LENGTH_SIGMA**2 / 2  # E[exp(N(mu, s^2))] = extra
    lengths = minimum + np.rint(rng.lognormal(mu, _LENGTH_SIGMA, n_users)).astype(np.int64)
    return np.clip(lengths, minimum, maximum)


def _cumsum_within(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Cumulative sum restarted at every segment start (segments must be non-empty)."""
    total = np.cumsum(values)
    before = np.concatenate([[0], total[indptr[1:-1] - 1]])  # [n_segments]
    return total - np.repeat(before, np.diff(indptr))


def _redraw_repeats(
    rng: np.random.Generator,
    users: np.ndarray,
    clusters: np.ndarray,
    items: np.ndarray,
    sampler: _ClusterSampler,
    n_items: int,
) -> np.ndarray:
    """Redraw (in place) every repeated (user, item) after its first occurrence; a keep mask.

    Rows that still repeat after a fixed number of rounds (the user has taken most of a cluster)
    are dropped.
    """
    width = n_items + 1
    keys = users * width + items
    order = np.argsort(keys, kind="stable")  # the first occurrence of a key sorts first
    sorted_keys = keys[order]
    same = sorted_keys[1:] == sorted_keys[:-1]
    taken = sorted_keys[np.concatenate([[True], ~same])]  # sorted unique keys
    pending = np.sort(order[1:][same])  # positions of later occurrences
    placed = [taken]  # sorted key arrays: the first occurrences, then each round's redraws
    for _ in range(_REDRAW_ROUNDS):
        if len(pending) == 0:
            break
        items[pending] = sampler.draw(rng, clusters[pending])
        new = users[pending] * width + items[pending]
        first = np.unique(new, return_index=True)[1]
        ok = np.zeros(len(new), dtype=bool)
        ok[first] = True  # a key drawn twice in this round keeps its earliest row
        for keys_so_far in placed:
            ok &= ~_contains(keys_so_far, new)
        placed.append(np.sort(new[ok]))
        pending = pending[~ok]
    keep = np.ones(len(keys), dtype=bool)
    keep[pending] = False
    return keep


def _contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(queries), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_values, queries), len(sorted_values) - 1)
    return sorted_values[pos] == queries


def _item_table(item_cluster: np.ndarray, n_clusters: int) -> pd.DataFrame:
    """Title `item <id>` and the item's cluster as its only genre, indexed by item id."""
    ids = np.arange(1, len(item_cluster) + 1, dtype=np.int64)
    genre_of_cluster = np.empty(n_clusters, dtype=object)
    for k in range(n_clusters):
        genre_of_cluster[k] = (f"cluster {k}",)
    titles = pd.Series(ids).astype(str).radd("item ").to_numpy(dtype=object)
    index = pd.Index(ids, name="item")
    return pd.DataFrame({"title": titles, "genres": genre_of_cluster[item_cluster]}, index=index)
