"""Ranks from score matrices: exact values for perfect, reversed and constant scorers."""

import numpy as np
import pytest
import torch
from conftest import random_interactions

from protocols import metrics
from protocols.evaluate import rank_targets
from protocols.interface import Recommender
from protocols.negatives import draw_candidates
from protocols.split import leave_one_out


class Oracle(Recommender):
    """Scores each user's targets `sign` x 1 and every other item by a fixed permutation."""

    def __init__(self, eval_set, n_items, sign=1.0, constant=False):
        super().__init__()
        self.lookup = dict(zip(eval_set.users.tolist(), eval_set.targets.tolist(), strict=True))
        self.n_items, self.sign, self.constant = n_items, sign, constant

    def fit(self, data):
        return self

    def score(self, batch):
        if self.constant:
            return torch.zeros(len(batch), self.n_items + 1)
        base = torch.linspace(0.1, 0.9, self.n_items + 1).repeat(len(batch), 1)
        for row, user in enumerate(batch.users.tolist()):
            base[row, self.lookup[user]] = self.sign * 10.0
        return base


@pytest.fixture(scope="module")
def setup():
    data = random_interactions(7, n_users=40, n_items=60, max_len=30)
    split = leave_one_out(data)
    negatives = draw_candidates(data, split, 20, "uniform", seed=0)["test"]
    return data, split, negatives


def _ranks(model, data, split, negatives, batch_size=7):
    return rank_targets(model, split.test, data.n_items, 5, negatives, batch_size=batch_size)


def test_perfect_scorer_ranks_first(setup):
    data, split, negatives = setup
    ranks = _ranks(Oracle(split.test, data.n_items), data, split, negatives)
    assert (ranks.full == 0).all() and (ranks.sampled == 0).all()
    assert metrics.summarise(ranks.sampled, (1,))["NDCG@1"] == 1.0


def test_reversed_scorer_ranks_last(setup):
    data, split, negatives = setup
    ranks = _ranks(Oracle(split.test, data.n_items, sign=-1.0), data, split, negatives)
    assert (ranks.sampled == 20).all()
    assert (ranks.full[:, 0] == ranks.full_candidates - 1).all()
    assert metrics.summarise(ranks.sampled, (10,))["HR@10"] == 0.0


def test_constant_scorer_loses_every_tie(setup):
    data, split, negatives = setup
    ranks = _ranks(Oracle(split.test, data.n_items, constant=True), data, split, negatives)
    assert (ranks.sampled == 20).all()  # rank = number of other candidates
    assert (ranks.full[:, 0] == ranks.full_candidates - 1).all()


def test_full_candidates_exclude_history_and_padding(setup):
    data, split, negatives = setup
    ranks = _ranks(Oracle(split.test, data.n_items, constant=True), data, split, negatives)
    lengths = split.test.inputs.lengths
    assert (ranks.full_candidates == data.n_items - lengths).all()


def test_history_items_never_count_against_the_target(setup):
    data, split, negatives = setup

    class HistoryLover(Oracle):
        def score(self, batch):  # history items score above the target
            scores = super().score(batch)
            return scores + torch.as_tensor(batch.history.toarray()) * 100.0

    ranks = _ranks(HistoryLover(split.test, data.n_items), data, split, negatives)
    assert (ranks.full == 0).all() and (ranks.sampled == 0).all()


def test_nan_scores_are_refused(setup):
    data, split, negatives = setup

    class Broken(Oracle):
        def score(self, batch):
            return torch.full((len(batch), self.n_items + 1), float("nan"))

    with pytest.raises(ValueError, match="NaN"):
        _ranks(Broken(split.test, data.n_items), data, split, negatives)


def test_batch_size_does_not_change_ranks(setup):
    data, split, negatives = setup

    class Noisy(Oracle):
        def score(self, batch):
            gen = [torch.Generator().manual_seed(int(u)) for u in batch.users]
            return torch.stack([torch.rand(self.n_items + 1, generator=g) for g in gen])

    a = _ranks(Noisy(split.test, data.n_items), data, split, negatives, batch_size=1)
    b = _ranks(Noisy(split.test, data.n_items), data, split, negatives, batch_size=64)
    assert np.array_equal(a.full, b.full) and np.array_equal(a.sampled, b.sampled)
