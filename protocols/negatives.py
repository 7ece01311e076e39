"""Negative sampling: a sample of a split part's full-ranking candidates minus its targets,
uniform or popularity-proportional.

Draws are i.i.d. from the sampler's distribution over all items; excluded items and
repeats are rejected and the first n survivors kept. That is exactly sampling without
replacement from the user's unseen items (successive sampling when weighted), and it is
vectorised over users. Rows that run short draw more, continuing the same sequence.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from protocols.data import item_popularity
from protocols.errors import InputError
from protocols.types import EvalSet, Histories, Interactions, Split

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
    """[U, n] int64: for each row of `seen` ([U, n_items + 1], the excluded items), n distinct
    items outside it.

    Only items with positive weight can be drawn. Raises InputError when a row has fewer
    than n such items.
    """
    seen = sp.csr_matrix(seen, dtype=bool)
    positive = weights > 0
    available = positive.sum() - (seen[:, positive].sum(axis=1).A1 if n > 0 else 0)
    if n > 0 and (available < n).any():
        worst = int(np.argmin(available))
        raise InputError(
            f"--num-negatives {n} is more than the {int(available[worst])} items a user has "
            f"to sample from (row {worst}); use fewer negatives"
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
    data: Interactions,
    split: Split,
    n: int,
    sampler: str,
    seed: int,
    exclude_history: bool = True,
) -> dict[str, np.ndarray]:
    """{"valid": [n_users, n], "test": [n_users, n]} sampled negatives per split part.

    Each part's negatives are a sample without replacement of that part's full-ranking
    candidates minus its targets: every item except the targets and, with `exclude_history`
    (`--repeats first`), the user's input history of that part. Items after the test target
    (temporal split) are candidates, so they may be negatives. Rows of users a part does not
    evaluate are 0. Each part draws from a stream of its own, independent of training; test
    uses the stream of earlier versions, so leave-one-out test negatives are unchanged.
    """
    weights = item_weights(sampler, split.train, data.n_items)
    out = {}
    for part, stream in (("test", (seed, 0x5EED)), ("valid", (seed, 0x5EED, 1))):
        eval_set = getattr(split, part)
        excluded = _excluded(eval_set, data.n_items + 1, exclude_history)
        negatives = np.zeros((data.n_users, n), dtype=np.int64)
        negatives[eval_set.users] = sample_negatives(
            excluded, n, weights, np.random.default_rng(list(stream))
        )
        out[part] = negatives
    return {"valid": out["valid"], "test": out["test"]}


def _excluded(eval_set: EvalSet, n_columns: int, exclude_history: bool) -> sp.csr_matrix:
    """[U, n_columns] bool: the targets of each user, plus the input history if asked."""
    rows = np.repeat(np.arange(eval_set.n_users), eval_set.targets.shape[1])
    ones = np.ones(len(rows), dtype=bool)
    shape = (eval_set.n_users, n_columns)
    targets = sp.csr_matrix((ones, (rows, eval_set.targets.ravel())), shape=shape)
    if not exclude_history:
        return targets
    return (targets + eval_set.inputs.to_csr(n_columns)).astype(bool).tocsr()


def fixed_candidates(
    data: Interactions, split: Split, table: dict[str, list[str]], where: str
) -> dict[str, np.ndarray]:
    """{"valid": [n_users, N], "test": [n_users, N]} from published negatives: `table` maps a
    user's original id (as text) to the original ids of its N negatives, the same for both parts.

    Refused (InputError naming `where`): an evaluated user missing from the table, an item the
    data does not have, or a negative in the user's history or among its targets (all of its
    events: such a negative would be a positive). Rows of users no part evaluates are 0.
    """
    item_index = {str(item): i for i, item in enumerate(data.item_ids) if i > 0}
    width = len(next(iter(table.values())))
    negatives = np.zeros((data.n_users, width), dtype=np.int64)
    evaluated = np.union1d(split.valid.users, split.test.users)
    histories = data.histories
    for user in evaluated.tolist():
        raw = str(data.user_ids[user])
        if raw not in table:
            raise InputError(f"{where}: no negatives for user {raw} of {data.name}")
        try:
            row = [item_index[item] for item in table[raw]]
        except KeyError as error:
            missing = error.args[0]
            raise InputError(f"{where}: user {raw}: item {missing} is not in {data.name}") from None
        clash = np.intersect1d(row, histories.row(user))
        if len(clash):
            item = data.item_ids[clash[0]]
            raise InputError(
                f"{where}: user {raw}: negative {item} is in the user's history or targets "
                f"(the file belongs to another version of {data.name}?)"
            )
        negatives[user] = row
    return {"valid": negatives, "test": negatives.copy()}
