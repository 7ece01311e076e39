"""Fixed-length sequences for scoring and training."""

import numpy as np
import pytest

from protocols.errors import InputError
from protocols.sequences import last_items, training_windows
from protocols.types import Histories


def _histories(rows):
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    items = np.array([i for r in rows for i in r], dtype=np.int64)
    return Histories(indptr, items, np.arange(len(items), dtype=np.int64))


def test_last_items_left_pads():
    h = _histories([[1, 2, 3, 4, 5], [7], []])
    assert last_items(h, 3).tolist() == [[3, 4, 5], [0, 0, 7], [0, 0, 0]]


def test_training_windows_cover_every_target_once():
    h = _histories([[1, 2, 3, 4, 5, 6, 7], [8, 9], [5]])
    inputs, targets = training_windows(h, 3)
    assert inputs.tolist() == [[4, 5, 6], [1, 2, 3], [0, 0, 8]]
    assert targets.tolist() == [[5, 6, 7], [2, 3, 4], [0, 0, 9]]


def test_training_windows_pad_the_earliest_window():
    h = _histories([[1, 2, 3, 4, 5]])
    inputs, targets = training_windows(h, 3)
    assert inputs.tolist() == [[2, 3, 4], [0, 0, 1]]
    assert targets.tolist() == [[3, 4, 5], [0, 0, 2]]
    last_inputs, last_targets = training_windows(h, 3, all_windows=False)
    assert last_inputs.tolist() == [[2, 3, 4]] and last_targets.tolist() == [[3, 4, 5]]


def test_targets_follow_inputs():
    rng = np.random.default_rng(0)
    h = _histories([list(rng.integers(1, 50, size=rng.integers(0, 30))) for _ in range(50)])
    inputs, targets = training_windows(h, 4)
    assert ((inputs == 0) == (targets == 0)).all()
    inside = (inputs[:, :-1] > 0) & (inputs[:, 1:] > 0)  # the next input is this target
    assert (targets[:, :-1][inside] == inputs[:, 1:][inside]).all()
    assert (targets > 0).sum() == sum(max(n - 1, 0) for n in h.lengths)


def test_zero_seq_len_is_refused():
    with pytest.raises(InputError, match="seq-len"):
        last_items(_histories([[1]]), 0)
