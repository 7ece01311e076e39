"""Metrics on exact hand-computed ranks."""

import numpy as np
import pytest

from protocols.metrics import hit_rate, mrr, ndcg, per_user, recall


def test_single_target():
    ranks = np.array([[0], [3], [10]])
    assert hit_rate(ranks, 5).tolist() == [1, 1, 0]
    assert recall(ranks, 5).tolist() == [1, 1, 0]
    assert ndcg(ranks, 5) == pytest.approx([1.0, 1 / np.log2(5), 0.0])
    assert mrr(ranks) == pytest.approx([1.0, 0.25, 1 / 11])


def test_several_targets():
    ranks = np.array([[0, 4], [2, 30]])  # two targets per user
    assert hit_rate(ranks, 3).tolist() == [1, 1]
    assert recall(ranks, 3).tolist() == [0.5, 0.5]
    assert recall(ranks, 5).tolist() == [1.0, 0.5]
    ideal = 1 + 1 / np.log2(3)
    assert ndcg(ranks, 5) == pytest.approx([(1 + 1 / np.log2(6)) / ideal, (1 / np.log2(4)) / ideal])
    assert mrr(ranks) == pytest.approx([1.0, 1 / 3])


def test_ideal_ranking_scores_one():
    ranks = np.array([[0, 1, 2]])
    assert ndcg(ranks, 10)[0] == pytest.approx(1.0)
    assert ndcg(ranks, 2)[0] == pytest.approx(1.0)


def test_per_user_names():
    names = set(per_user(np.array([[1]]), (5, 10)))
    assert names == {"Recall@5", "Recall@10", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR"}
