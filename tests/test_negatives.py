"""Negative sampling: a sample of each part's full-ranking candidates minus its targets;
exact counts, deterministic, unbiased."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import interactions, random_interactions
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.data import to_implicit
from protocols.errors import InputError
from protocols.negatives import draw_candidates, item_weights, sample_negatives
from protocols.split import leave_one_out, make_split, temporal
from protocols.types import EvalSet, RawData


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 12),
    sampler=st.sampled_from(["uniform", "popularity"]),
    use_temporal=st.booleans(),
    exclude_history=st.booleans(),
)
def test_negatives_are_full_ranking_candidates_minus_targets(
    seed, n, sampler, use_temporal, exclude_history
):
    data = random_interactions(seed, n_users=25, n_items=60, max_len=20)
    split = temporal(data, 0.7) if use_temporal else leave_one_out(data)
    try:
        negatives = draw_candidates(data, split, n, sampler, seed, exclude_history)
    except InputError:  # a popularity sampler may have too few items with training counts
        assert sampler == "popularity"
        return
    weights = item_weights(sampler, split.train, data.n_items)
    everything = set(range(1, data.n_items + 1))
    for part in ("valid", "test"):
        eval_set = getattr(split, part)
        evaluated = set(eval_set.users.tolist())
        for row, user in enumerate(eval_set.users):
            history = set(eval_set.inputs.row(row).tolist()) if exclude_history else set()
            candidates = everything - history - set(eval_set.targets[row].tolist())
            drawn = negatives[part][user].tolist()
            assert len(set(drawn)) == n and set(drawn) <= candidates
            assert (weights[drawn] > 0).all()
        others = [u for u in range(data.n_users) if u not in evaluated]
        assert not negatives[part][others].any()  # rows of users the part does not evaluate


def _equal_length_world(repeats: str):
    """8 users, each with 6 distinct items at times 1..6, then their first item again at time 7:
    every user has the same number of events (6 under `first`, 7 under `keep`), so the users
    of a split part all have the same number C of full-ranking candidates."""
    rng = np.random.default_rng(0)
    events = []
    for user in range(8):
        items = rng.choice(np.arange(1, 13), size=6, replace=False).tolist()
        events += [(user, item, time) for time, item in enumerate(items + items[:1], start=1)]
    frame = pd.DataFrame(events, columns=["user", "item", "timestamp"])
    return to_implicit(RawData("equal lengths", frame), repeats=repeats)


def _pool(data, eval_set, row, exclude_history):
    """The part's full-ranking candidates minus its targets, by the definition in PROTOCOL.md."""
    history = set(eval_set.inputs.row(row).tolist()) if exclude_history else set()
    return set(range(1, data.n_items + 1)) - history - set(eval_set.targets[row].tolist())


def _only(split, part):
    """The split with `part` alone evaluated (the other part has no users)."""
    kept = getattr(split, part)
    nobody = EvalSet(kept.users[:0], kept.inputs.take(kept.users[:0]), kept.targets[:0])
    return dataclasses.replace(split, **{"test" if part == "valid" else "valid": nobody})


@pytest.mark.parametrize("split_name", ["loo", "temporal"])
@pytest.mark.parametrize("repeats", ["first", "keep"])
def test_drawing_the_whole_pool_gives_exactly_the_candidates_minus_targets(repeats, split_name):
    """With n = C - 1 every candidate but the targets is drawn: nothing more is excluded."""
    data = _equal_length_world(repeats)
    split = make_split(data, split_name, quantile=0.6)
    exclude_history = repeats == "first"
    for part in ("valid", "test"):
        eval_set = getattr(split, part)
        assert eval_set.n_users > 0
        pools = [_pool(data, eval_set, row, exclude_history) for row in range(eval_set.n_users)]
        n = len(pools[0])
        assert all(len(pool) == n for pool in pools)  # one n is the whole pool of every user
        negatives = draw_candidates(data, _only(split, part), n, "uniform", 0, exclude_history)
        for row, user in enumerate(eval_set.users):
            drawn = negatives[part][user].tolist()
            assert len(drawn) == n and set(drawn) == pools[row]
            # events after the part's targets (the later test item, the dropped events) are
            # ordinary candidates
            events = data.histories.row(user).tolist()
            later = set(events[len(eval_set.inputs.row(row)) + eval_set.targets.shape[1] :])
            assert later - set(eval_set.targets[row].tolist()) <= set(drawn)


@pytest.mark.parametrize("repeats", ["first", "keep"])
def test_leave_one_out_validation_negatives_include_the_later_test_item(repeats):
    """The test item comes after the validation target: a validation candidate, and drawn."""
    data = _equal_length_world(repeats)
    split = leave_one_out(data)
    exclude_history = repeats == "first"
    n = len(_pool(data, split.test, 0, exclude_history))  # the test pool, all of it
    negatives = draw_candidates(data, split, n, "uniform", 0, exclude_history)
    assert np.array_equal(split.valid.users, split.test.users)
    found = 0
    for row, user in enumerate(split.valid.users):
        test_item = int(split.test.targets[row, 0])
        valid_pool = _pool(data, split.valid, row, exclude_history)
        test_pool = _pool(data, split.test, row, exclude_history)
        assert test_item in valid_pool
        assert set(negatives["test"][user].tolist()) == test_pool
        valid_drawn = set(negatives["valid"][user].tolist())
        assert valid_drawn <= valid_pool
        found += test_item in valid_drawn
    # `keep`: the validation pool is as large as the test pool, so all of it is drawn; `first`:
    # it holds one more item (the test item), so each user misses one candidate at random
    assert found == split.valid.n_users if repeats == "keep" else found >= split.valid.n_users // 2


def test_items_after_the_test_target_may_be_negatives():
    # temporal: user 0 sees items 1, 2 before the cut and 3 (target), then 4 (dropped) after it
    events = [(0, 1, 1), (0, 2, 2), (0, 3, 8), (0, 4, 9), (1, 5, 1), (1, 6, 2), (1, 1, 3)]
    events += [(2, 6, 1), (2, 2, 2), (2, 3, 3), (2, 7, 3)]
    data = interactions(events)
    split = temporal(data, 0.7)
    assert split.test.users.tolist() == [0]
    negatives = draw_candidates(data, split, 4, "uniform", 0)["test"][0]  # 7 items - 2 seen - 1
    assert sorted(data.item_ids[negatives].tolist()) == [4, 5, 6, 7]


def test_same_seed_same_candidates_other_seed_other():
    data = random_interactions(3)
    split = leave_one_out(data)
    a = draw_candidates(data, split, 5, "uniform", seed=1)
    b = draw_candidates(data, split, 5, "uniform", seed=1)
    c = draw_candidates(data, split, 5, "uniform", seed=2)
    for part in ("valid", "test"):
        assert np.array_equal(a[part], b[part]) and not np.array_equal(a[part], c[part])


def test_uniform_is_uniform_over_unseen_items():
    seen = sp.csr_matrix(np.array([[0, 1, 1, 0, 0, 0, 0, 0, 0, 0]] * 20_000, dtype=bool))
    weights = np.ones(10)
    weights[0] = 0
    draws = sample_negatives(seen, 3, weights, np.random.default_rng(0))
    counts = np.bincount(draws.ravel(), minlength=10)
    assert counts[:3].sum() == 0
    expected = 20_000 * 3 / 7
    assert np.abs(counts[3:] - expected).max() < 0.03 * expected


def test_popularity_sampler_is_successive_sampling():
    # weights 1:2:3 over items 1..3, two draws without replacement
    weights = np.array([0.0, 1.0, 2.0, 3.0])
    seen = sp.csr_matrix((50_000, 4), dtype=bool)
    draws = sample_negatives(seen, 1, weights, np.random.default_rng(0))
    freq = np.bincount(draws.ravel(), minlength=4)[1:] / 50_000
    assert freq == pytest.approx([1 / 6, 2 / 6, 3 / 6], abs=0.01)
    pairs = sample_negatives(seen, 2, weights, np.random.default_rng(1))
    # P(item 1 among two) = 1/6 + (2/6)(1/4) + (3/6)(1/3) = 5/12
    assert (pairs == 1).any(axis=1).mean() == pytest.approx(5 / 12, abs=0.01)


def test_too_many_negatives_is_an_input_error():
    seen = sp.csr_matrix(np.array([[0, 1, 1, 0, 0]], dtype=bool))
    with pytest.raises(InputError, match="more than the 2 items a user has"):
        sample_negatives(seen, 3, np.array([0.0, 1, 1, 1, 1]), np.random.default_rng(0))


def test_heavy_users_still_get_exact_samples():
    # a user who has seen all but 4 of 500 items needs many rejection rounds
    row = np.ones(501, dtype=bool)
    row[[10, 20, 30, 40]] = False
    seen = sp.csr_matrix(np.vstack([row, np.zeros(501, dtype=bool)]))
    draws = sample_negatives(seen, 4, np.r_[0.0, np.ones(500)], np.random.default_rng(0))
    assert sorted(draws[0].tolist()) == [10, 20, 30, 40]
    assert len(set(draws[1].tolist())) == 4


def test_leave_one_out_test_negatives_are_those_of_the_whole_history_rule():
    # before per-part drawing, one array excluded each user's whole history; under leave-one-out
    # the test part excludes exactly that (input + target), from the same stream
    data = random_interactions(5, n_users=30, n_items=50, max_len=20)
    split = leave_one_out(data)
    users = split.test.users
    seen = data.histories.take(users).to_csr(data.n_items + 1)
    weights = item_weights("uniform", split.train, data.n_items)
    old = sample_negatives(seen, 6, weights, np.random.default_rng([3, 0x5EED]))
    assert np.array_equal(draw_candidates(data, split, 6, "uniform", 3)["test"][users], old)
