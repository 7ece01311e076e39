"""Krichene-Rendle estimates of full-ranking metrics from sampled ranks."""

import numpy as np
import pytest
from scipy.stats import hypergeom

from protocols import metrics
from protocols.estimate import _hypergeometric, corrected, estimate_full, metric_curves

KS = (1, 5, 10)


def test_hypergeometric_matches_scipy():
    r = np.arange(31)[None, :]
    successes = np.arange(400)[:, None]
    assert np.allclose(_hypergeometric(r, 399, successes, 30), hypergeom.pmf(r, 399, successes, 30))


def test_estimate_is_the_true_metric_when_the_sample_is_the_whole_catalogue():
    rng = np.random.default_rng(0)
    n_candidates = 300  # every user: the target and 299 other candidates, all of them sampled
    full = rng.integers(0, n_candidates, size=(500, 1))
    estimates = estimate_full(full, np.full(500, n_candidates), n_candidates - 1, KS)
    truth = metrics.per_user(full, KS)
    for name in ("HR@10", "NDCG@10", "Recall@5", "HR@1", "MRR"):
        assert np.allclose(estimates[name], truth[name]), name


def _simulate(full_ranks, n_candidates, n_negatives, rng):
    """Sampled ranks: how many of n_negatives drawn without replacement beat the target."""
    return rng.hypergeometric(full_ranks, n_candidates - 1 - full_ranks, n_negatives)


@pytest.mark.parametrize("scale", [20, 200])
def test_estimate_is_far_closer_to_the_truth_than_the_sampled_metric(scale):
    rng = np.random.default_rng(1)
    n_candidates, n_negatives, users = 3000, 100, 20000
    full = np.minimum(rng.geometric(1 / scale, size=users) - 1, n_candidates - 1)
    sampled = _simulate(full, n_candidates, n_negatives, rng)[:, None]
    estimates = estimate_full(sampled, np.full(users, n_candidates), n_negatives, KS)
    truth = metrics.per_user(full[:, None], KS)
    naive = metrics.per_user(sampled, KS)
    for name in ("HR@10", "NDCG@10"):
        error = abs(estimates[name].mean() - truth[name].mean())
        assert error < 0.25 * abs(naive[name].mean() - truth[name].mean()), name
        assert error < 0.02, name


def test_users_are_grouped_by_candidate_count():
    rng = np.random.default_rng(2)
    counts = rng.integers(500, 3000, size=4000)  # many distinct counts: quantile groups
    full = (rng.random(4000) * 0.05 * counts).astype(int)
    sampled = _simulate(full, counts, 100, rng)[:, None]
    estimates = estimate_full(sampled, counts, 100, (10,))
    truth = metrics.per_user(full[:, None], (10,))
    assert abs(estimates["HR@10"].mean() - truth["HR@10"].mean()) < 0.02


def test_several_targets_are_refused():
    with pytest.raises(ValueError, match="one target"):
        estimate_full(np.zeros((3, 2), dtype=int), np.full(3, 50), 10, KS)


def test_correction_of_a_tiny_catalogue_is_exact_under_the_identity():
    curves = metric_curves(5, (2,))
    credit = corrected(curves, 4)
    assert np.allclose(credit["HR@2"], curves["HR@2"])


def test_a_store_keeps_corrections_for_later_processes(tmp_path, monkeypatch):
    from protocols import estimate

    rng = np.random.default_rng(3)
    sampled, counts = rng.integers(0, 51, size=(40, 1)), np.full(40, 700)
    estimate.cached_correction.cache_clear()
    first = estimate_full(sampled, counts, 50, KS, store=str(tmp_path))
    assert len(list(tmp_path.glob("*.npz"))) == 1  # one candidate count, one file
    estimate.cached_correction.cache_clear()  # as in a new process
    monkeypatch.setattr(estimate, "_solve", lambda *a: pytest.fail("solved again"))
    again = estimate_full(sampled, counts, 50, KS, store=str(tmp_path))
    assert all(np.array_equal(first[m], again[m]) for m in first)
    (next(tmp_path.glob("*.npz"))).write_bytes(b"half a file")  # unreadable: solved again
    estimate.cached_correction.cache_clear()
    with pytest.raises(pytest.fail.Exception, match="solved again"):
        estimate_full(sampled, counts, 50, KS, store=str(tmp_path))
    estimate.cached_correction.cache_clear()


# users with different candidate counts each get their own C's correction, as if estimated alone
def test_each_candidate_count_is_corrected_with_its_own_count():
    rng = np.random.default_rng(4)
    counts = rng.permutation(np.repeat([60, 400, 2500], 30))  # three counts, interleaved
    sampled = rng.integers(0, 21, size=(90, 1))
    together = estimate_full(sampled, counts, 20, KS)
    for c in (60, 400, 2500):
        alone = estimate_full(sampled[counts == c], counts[counts == c], 20, KS)
        for name in ("HR@10", "NDCG@10", "MRR"):
            assert np.allclose(together[name][counts == c], alone[name]), (c, name)
    one_count = estimate_full(sampled, np.full(90, counts[0]), 20, KS)
    assert not np.allclose(together["NDCG@10"], one_count["NDCG@10"])  # the counts matter
