"""Splits: exact hand-made cases and properties that must hold for any data."""

import numpy as np
from conftest import interactions, random_interactions
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.split import leave_one_out, temporal


def _item_index(data, original):
    return int(np.flatnonzero(data.item_ids == original)[0])


def test_leave_one_out_by_hand():
    # user 7: items 10, 11, 12, 13 at times 1..4; user 8 has two events only
    data = interactions([(7, 13, 4), (7, 10, 1), (8, 10, 5), (7, 12, 3), (7, 11, 2), (8, 12, 6)])
    split = leave_one_out(data)
    ix = lambda i: _item_index(data, i)  # noqa: E731
    assert list(split.train.row(0)) == [ix(10), ix(11)]
    assert list(split.train.row(1)) == [ix(10), ix(12)]  # too short: training only
    assert list(split.valid.users) == [0] and list(split.test.users) == [0]
    assert split.valid.targets.tolist() == [[ix(12)]]
    assert split.test.targets.tolist() == [[ix(13)]]
    assert list(split.valid.inputs.row(0)) == [ix(10), ix(11)]
    assert list(split.test.inputs.row(0)) == [ix(10), ix(11), ix(12)]  # valid item joins input
    assert split.info["train_only_users"] == 1


def test_equal_timestamps_keep_file_order_not_item_order():
    data = interactions([(1, 30, 5), (1, 20, 5), (1, 10, 5)])
    split = leave_one_out(data)
    assert data.item_ids[split.test.targets[0, 0]] == 10  # last in the file, not the largest id
    assert data.item_ids[split.train.row(0)[0]] == 30


def test_several_targets_per_user():
    data = interactions([(1, i, i) for i in range(1, 8)])
    split = leave_one_out(data, targets_per_user=2)
    ids = lambda a: [int(data.item_ids[i]) for i in a]  # noqa: E731
    assert ids(split.test.targets[0]) == [6, 7]
    assert ids(split.valid.targets[0]) == [4, 5]
    assert ids(split.train.row(0)) == [1, 2, 3]
    assert ids(split.test.inputs.row(0)) == [1, 2, 3, 4, 5]


def test_temporal_by_hand():
    # user 1 spans the cut-off; user 2 starts after it (cold: not tested); user 3 ends before it
    events = [
        (1, 1, 1),
        (1, 2, 2),
        (1, 3, 3),
        (1, 4, 8),
        (1, 5, 9),
        (2, 6, 9),
        (2, 7, 10),
        (3, 1, 4),
        (3, 2, 5),
    ]
    data = interactions(events)
    split = temporal(data, quantile=0.6)  # cut-off at timestamp 5
    ids = lambda a: [int(data.item_ids[i]) for i in a]  # noqa: E731
    assert split.info["cutoff_timestamp"] == 5
    assert list(split.test.users) == [0]
    assert ids(split.test.targets[0]) == [4]  # first held-out event; event 5 is dropped
    assert ids(split.test.inputs.row(0)) == [1, 2, 3]
    assert ids(split.valid.targets[0]) == [3]
    assert ids(split.train.row(0)) == [1, 2]
    assert ids(split.train.row(2)) == [1, 2]
    assert len(split.train.row(1)) == 0
    assert split.info["cold_users_not_tested"] == 1


def _events(h, row):
    stamps = h.timestamps[h.indptr[row] : h.indptr[row + 1]]
    return set(zip(h.row(row).tolist(), stamps.tolist(), strict=True))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), targets=st.integers(1, 3), use_temporal=st.booleans())
def test_no_held_out_event_reaches_training(seed, targets, use_temporal):
    data = random_interactions(seed)
    split = temporal(data, 0.7, targets) if use_temporal else leave_one_out(data, targets)
    for part in (split.valid, split.test):
        for k, user in enumerate(part.users):
            targets_held = set(part.targets[k].tolist())
            # items are distinct per user here, so item identity is event identity
            assert not targets_held & set(split.train.row(user).tolist())
            assert not targets_held & set(part.inputs.row(k).tolist())
    for user in split.test.users:  # the test input contains all training events
        k = int(np.flatnonzero(split.test.users == user)[0])
        assert _events(split.train, user) <= _events(split.test.inputs, k)
    if use_temporal:  # training is the events up to the cut-off, less the validation targets
        cutoff = split.info["cutoff_timestamp"]
        assert (split.train.timestamps <= cutoff).all()
        up_to_cutoff = int((data.histories.timestamps <= cutoff).sum())
        assert split.train.indptr[-1] == up_to_cutoff - targets * split.valid.n_users
    else:  # every user with 2T + 1 events or more gives 2T to validation and test, the rest none
        lengths = [len(data.histories.row(user)) for user in range(data.n_users)]
        held_out = sum(2 * targets for length in lengths if length >= 2 * targets + 1)
        assert split.train.indptr[-1] == data.n_interactions - held_out
        evaluated = [user for user, length in enumerate(lengths) if length >= 2 * targets + 1]
        assert split.test.users.tolist() == evaluated
