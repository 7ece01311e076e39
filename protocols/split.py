"""Held-out splits: chronological leave-one-out and a global temporal cut-off.

Both keep each user's history in time order and hand models only the training part;
the held-out events never reach `Split.train`.
"""

from __future__ import annotations

import numpy as np

from protocols.errors import InputError
from protocols.types import EvalSet, Histories, Interactions, Split


def leave_one_out(data: Interactions, targets_per_user: int = 1) -> Split:
    """Chronological leave-last-out, per user (T = targets_per_user, here T = 1)::

        h1 h2 ... h(n-2) | h(n-1) | hn
        ---- train ----- | valid  | test
        valid input: h1 ... h(n-2)
        test input:  h1 ... h(n-1)   (the validation item joins the input; no refit)

    With T targets the last T events are the test targets and the T before them the
    validation targets. Users with fewer than 2T + 1 events contribute only to training.
    """
    if targets_per_user < 1:
        raise InputError(f"--targets-per-user must be >= 1, got {targets_per_user}")
    h, t = data.histories, targets_per_user
    lengths = h.lengths
    evaluated = np.flatnonzero(lengths >= 2 * t + 1)
    train_lengths = lengths.copy()
    train_lengths[evaluated] -= 2 * t
    valid_start = h.indptr[evaluated] + lengths[evaluated] - 2 * t  # first validation event
    test_start = valid_start + t
    split = Split(
        name="loo",
        train=h.prefixes(np.arange(data.n_users), train_lengths),
        valid=_eval_set(h, evaluated, valid_start, t),
        test=_eval_set(h, evaluated, test_start, t),
        n_users=data.n_users,
        n_items=data.n_items,
        info={
            "evaluated_users": int(len(evaluated)),
            "train_only_users": int(data.n_users - len(evaluated)),
            "targets_per_user": t,
        },
    )
    return _check_not_empty(split)


def temporal(data: Interactions, quantile: float = 0.8, targets_per_user: int = 1) -> Split:
    """Global temporal split at the `quantile` of all timestamps (cut-off time c)::

        user A: a1 a2 a3 a4 | a5 a6          (time ->, c between a4 and a5)
                train  valid| test (dropped)
        test input:  a1 ... a4   (everything before the target)
        valid input: a1 ... a3   (the last event before c is the validation target)

    Events after c are held out; each user's first T held-out events are the test targets,
    later ones are dropped. Users with no event before c cannot be tested (counted in info).
    The last T events before c of a tested user are validation targets and leave training.
    """
    if not 0.0 < quantile < 1.0:
        raise InputError(f"--temporal-quantile must be in (0, 1), got {quantile}")
    if targets_per_user < 1:
        raise InputError(f"--targets-per-user must be >= 1, got {targets_per_user}")
    if data.stats.get("clock"):
        raise InputError(
            f"--split temporal needs timestamps; {data.name} has none (its events are timed by "
            f"{data.stats['clock']}): use --split loo"
        )
    h, t = data.histories, targets_per_user
    cutoff = int(np.quantile(h.timestamps, quantile, method="lower"))  # a real timestamp
    row_of_event = np.repeat(np.arange(data.n_users), h.lengths)
    before = np.bincount(row_of_event, weights=h.timestamps <= cutoff, minlength=data.n_users)
    before = before.astype(np.int64)  # histories are time-sorted, so this is a prefix length
    after = h.lengths - before
    tested = np.flatnonzero((after >= t) & (before >= 1))
    validated = tested[before[tested] >= t + 1]
    train_lengths = before.copy()
    train_lengths[validated] -= t
    split = Split(
        name="temporal",
        train=h.prefixes(np.arange(data.n_users), train_lengths),
        valid=_eval_set(h, validated, h.indptr[validated] + before[validated] - t, t),
        test=_eval_set(h, tested, h.indptr[tested] + before[tested], t),
        n_users=data.n_users,
        n_items=data.n_items,
        info={
            "cutoff_timestamp": cutoff,
            "quantile": quantile,
            "evaluated_users": int(len(tested)),
            "validated_users": int(len(validated)),
            "cold_users_not_tested": int(((after >= t) & (before == 0)).sum()),
            "held_out_events_dropped": int(after.sum() - t * len(tested)),
            "targets_per_user": t,
        },
    )
    return _check_not_empty(split)


def _eval_set(h: Histories, users: np.ndarray, target_start: np.ndarray, t: int) -> EvalSet:
    """Targets are the t events from target_start; the input is everything before them."""
    targets = h.items[target_start[:, None] + np.arange(t)]
    inputs = h.prefixes(users, target_start - h.indptr[users])
    return EvalSet(users=users.astype(np.int64), inputs=inputs, targets=targets.reshape(-1, t))


def _check_not_empty(split: Split) -> Split:
    if split.test.n_users == 0:
        raise InputError(f"the {split.name} split leaves no user to test; check the filters")
    return split


def make_split(
    data: Interactions, name: str, targets_per_user: int = 1, quantile: float = 0.8
) -> Split:
    if name == "loo":
        return leave_one_out(data, targets_per_user)
    if name == "temporal":
        return temporal(data, quantile, targets_per_user)
    raise InputError(f"unknown split {name!r}; known: loo, temporal")
