"""Full-ranking metrics estimated from sampled ranks (Krichene and Rendle, KDD 2020).

A target with full rank R (R of the user's C - 1 other candidates beat it) gets sampled rank r
when r of the N sampled negatives are among those R: r ~ Hypergeometric(C - 1, R, N), since the
negatives are drawn without replacement. A sampled metric applies f(r); the corrected metric
applies f~(r), chosen so that E[f~(r) | R] is close to f(R) for every R, with a penalty on the
variance of f~(r) (their bias-variance estimator, prior uniform over R):

    f~ = argmin  sum_R (E[f~(r)|R] - f(R))^2 + gamma * Var[f~(r)|R]
       = [(1 - gamma) A'A + gamma diag(A'1)]^-1 A'f,      A[R, r] = P(r | R).

When the sample is the whole candidate list (N = C - 1), A is the identity and f~ = f exactly.

f~ depends only on (C, N, ks, gamma), so it is solved once per such key and cached for the
process (every model and run of a benchmark shares it) and, given a `store` directory, kept
there for later processes (keyed by this file's own text too, so an edited estimator never
reads an old solution). BLAS is held to one thread: these are small solves that
oversubscribed threads only slow down on a shared machine.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
from scipy.special import gammaln
from threadpoolctl import ThreadpoolController

from protocols import metrics

GAMMA = 0.01  # bias-variance trade-off: see bench/bench_estimate.py and the README
MAX_GROUPS = 32  # users are grouped by candidate count; one correction per group


def metric_curves(n_candidates: int, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """f(R) for R = 0..C-1 of the single-target metrics (`protocols.metrics` of rank R)."""
    return metrics.per_user(np.arange(n_candidates)[:, None], tuple(ks))


def corrected(curves: dict[str, np.ndarray], n_negatives: int, gamma: float = GAMMA):
    """{name: f~ [N + 1]}: the value to credit for each sampled rank 0..N."""
    n_candidates = len(next(iter(curves.values())))
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _solve(curves, n_candidates, n_negatives, gamma)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """Built once, on first use: finding the loaded BLAS libraries costs tens of ms."""
    return ThreadpoolController()


def _solve(curves: dict[str, np.ndarray], n_candidates: int, n_negatives: int, gamma: float):
    others = n_candidates - 1
    n = min(n_negatives, others)
    full = np.arange(n_candidates)[:, None]  # R
    sampled = np.arange(n + 1)[None, :]  # r
    a = _hypergeometric(sampled, others, full, n)  # [C, n + 1] = P(r | R), rows sum to 1
    lhs = (1 - gamma) * a.T @ a + gamma * np.diag(a.sum(axis=0))
    names = list(curves)
    rhs = a.T @ np.stack([curves[m] for m in names], axis=1)  # [n + 1, metrics]
    solution = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    out = {}
    for j, name in enumerate(names):
        values = np.zeros(n_negatives + 1)
        values[: n + 1] = solution[:, j]
        out[name] = values
    return out


@functools.lru_cache(maxsize=4096)
def cached_correction(
    n_candidates: int,
    n_negatives: int,
    ks: tuple[int, ...],
    gamma: float,
    store: str | None = None,
):
    """`corrected(metric_curves(C, ks), N, gamma)`, solved once per key in this process and,
    with a `store` directory, once per key for every process that shares it."""
    key = repr((_SOURCE_HASH, n_candidates, n_negatives, ks, gamma))
    path = Path(store) / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz" if store else None
    credit = _read(path) if path else None
    if credit is None:
        credit = corrected(metric_curves(n_candidates, ks), n_negatives, gamma)
        if path:
            _write(path, credit)
    for values in credit.values():
        values.flags.writeable = False  # shared between callers
    return credit


# The stored credit depends on this file and on the metric formulas it is fitted to.
_SOURCE_HASH = hashlib.sha256(
    Path(__file__).read_bytes() + (Path(__file__).parent / "metrics.py").read_bytes()
).hexdigest()


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # missing or unreadable
        return None


def _write(path: Path, credit: dict[str, np.ndarray]) -> None:
    """Whole or not at all: written beside and renamed, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **credit)
    os.replace(tmp, path)


def _hypergeometric(r: np.ndarray, population: int, successes: np.ndarray, draws: int):
    """P(r successes in `draws` draws without replacement), by log-binomials read off one
    table of log factorials (vectorised; integer arguments)."""
    log_factorial = gammaln(np.arange(population + 1) + 1.0)  # [population + 1]

    def log_choose(n, k):
        return log_factorial[n] - log_factorial[k] - log_factorial[n - k]

    r, successes = np.asarray(r, dtype=np.int64), np.asarray(successes, dtype=np.int64)
    possible = (r <= successes) & (draws - r <= population - successes)
    logp = (
        log_choose(successes, np.minimum(r, successes))
        + log_choose(population - successes, np.clip(draws - r, 0, population - successes))
        - log_choose(population, draws)
    )
    return np.where(possible, np.exp(logp), 0.0)


def estimate_full(
    sampled_ranks: np.ndarray,
    full_candidates: np.ndarray,
    n_negatives: int,
    ks: tuple[int, ...],
    gamma: float = GAMMA,
    store: str | None = None,
) -> dict[str, np.ndarray]:
    """Per-user estimates of the full-ranking metrics from single-target sampled ranks [U, 1].

    Users are grouped by their number of full-ranking candidates C (at most MAX_GROUPS groups
    by quantile, each corrected with its median C; exact when fewer distinct C exist).
    `store`: a directory that keeps the corrections for later processes (`cached_correction`).
    """
    if sampled_ranks.shape[1] != 1:
        raise ValueError("the sampled-to-full estimate is defined for one target per user")
    r = sampled_ranks[:, 0]
    counts = np.asarray(full_candidates)
    distinct = np.unique(counts)
    if len(distinct) <= MAX_GROUPS:
        group = np.searchsorted(distinct, counts)
    else:
        edges = np.unique(np.quantile(counts, np.linspace(0, 1, MAX_GROUPS + 1)[1:-1]))
        group = np.searchsorted(edges, counts, side="right")
    names = list(metric_curves(2, ks))
    estimates = {name: np.zeros(len(r)) for name in names}
    for g in np.unique(group):
        members = group == g
        size = int(np.median(counts[members]))
        credit = cached_correction(size, n_negatives, tuple(ks), gamma, store)
        for name in names:
            estimates[name][members] = credit[name][np.minimum(r[members], n_negatives)]
    return estimates
