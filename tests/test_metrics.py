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


def test_rank_k_minus_one_is_a_hit_and_rank_k_a_miss():
    """Ranks are 0-based: rank K - 1 is the K-th place, rank K is just outside the top K."""
    ranks = np.array([[4], [5], [9], [10]])
    assert hit_rate(ranks, 5).tolist() == [1, 0, 0, 0]
    assert recall(ranks, 5).tolist() == [1, 0, 0, 0]
    assert ndcg(ranks, 5) == pytest.approx([1 / np.log2(6), 0.0, 0.0, 0.0])
    assert hit_rate(ranks, 10).tolist() == [1, 1, 1, 0]
    assert recall(ranks, 10).tolist() == [1, 1, 1, 0]
    assert ndcg(ranks, 10) == pytest.approx([1 / np.log2(6), 1 / np.log2(7), 1 / np.log2(11), 0])
    assert mrr(ranks) == pytest.approx([1 / 5, 1 / 6, 1 / 10, 1 / 11])  # not truncated


def test_several_targets_on_both_sides_of_the_cut_off():
    """Two targets, one at rank K - 1 (counted) and one at rank K (not counted)."""
    ranks = np.array([[4, 5], [9, 10]])
    assert hit_rate(ranks, 5).tolist() == [1, 0]
    assert recall(ranks, 5).tolist() == [0.5, 0.0]
    assert hit_rate(ranks, 10).tolist() == [1, 1]
    assert recall(ranks, 10).tolist() == [1.0, 0.5]
    ideal = 1 + 1 / np.log2(3)  # two relevant items at ranks 0 and 1
    assert ndcg(ranks, 5) == pytest.approx([(1 / np.log2(6)) / ideal, 0.0])
    both = (1 / np.log2(6) + 1 / np.log2(7)) / ideal
    assert ndcg(ranks, 10) == pytest.approx([both, (1 / np.log2(11)) / ideal])
    assert mrr(ranks) == pytest.approx([1 / 5, 1 / 10])


def test_ideal_ranking_scores_one():
    ranks = np.array([[0, 1, 2]])
    assert ndcg(ranks, 10)[0] == pytest.approx(1.0)
    assert ndcg(ranks, 2)[0] == pytest.approx(1.0)


def test_per_user_names():
    names = set(per_user(np.array([[1]]), (5, 10)))
    assert names == {"Recall@5", "Recall@10", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR"}
