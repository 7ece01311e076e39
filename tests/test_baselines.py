"""The non-neural baselines on a small hand-made data set: the contract, then each model's idea."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import baselines  # noqa: F401  (registers the models)
from protocols.registry import create_model, list_models
from protocols.types import EvalSet, FitData, Histories, UserBatch

BASELINES = ["itemknn", "mf-als", "mf-bpr", "personal-topk", "pop"]
N_ITEMS = 6
SEQ_LEN = 4
# Items 1-3 carry genre 0, items 4-6 genre 1.
TRAIN = [[1, 2, 3], [1, 2], [4, 5, 1], [4, 5, 6], [1, 4]]
COUNTS = np.array([0, 4, 2, 1, 3, 2, 1])  # pop(i) of TRAIN, column 0 = padding


def histories(rows: list[list[int]]) -> Histories:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    items = np.array([i for r in rows for i in r], dtype=np.int64)
    return Histories(indptr, items, np.arange(len(items), dtype=np.int64))


def make_data(with_genres: bool = True, seed: int = 0) -> FitData:
    genres = sp.csr_matrix(
        ([1.0] * N_ITEMS, ([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1])), shape=(N_ITEMS + 1, 2)
    )
    valid = EvalSet(np.arange(len(TRAIN)), histories(TRAIN), np.array([[6], [3], [2], [1], [5]]))
    return FitData(
        train=histories(TRAIN),
        n_users=len(TRAIN),
        n_items=N_ITEMS,
        valid=valid,
        seq_len=SEQ_LEN,
        item_genres=genres if with_genres else None,
        seed=seed,
    )


def make_batch(users: list[int], rows: list[list[int]]) -> UserBatch:
    sequences = torch.zeros(len(rows), SEQ_LEN, dtype=torch.int64)  # left-padded with 0
    for r, items in enumerate(rows):
        last = items[-SEQ_LEN:]
        if last:
            sequences[r, SEQ_LEN - len(last) :] = torch.tensor(last)
    history = histories(rows).to_csr(N_ITEMS + 1)  # [B, n_items + 1]
    return UserBatch(np.array(users, dtype=np.int64), sequences, history)


def fitted(name: str, data: FitData | None = None, **params: object):
    return create_model(name, **params).fit(data if data is not None else make_data())


def test_all_baselines_registered() -> None:
    assert set(BASELINES) <= set(list_models())


@pytest.mark.parametrize("name", BASELINES)
def test_contract(name: str) -> None:
    batch = make_batch(list(range(len(TRAIN))), TRAIN)
    scores = fitted(name).score(batch)
    assert scores.dtype == torch.float32
    assert scores.shape == (len(TRAIN), N_ITEMS + 1)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", BASELINES)
def test_batch_scores_equal_per_user_scores(name: str) -> None:
    model = fitted(name)
    users, rows = [4, 0, 2, 1], [[1, 4], [1, 2, 3, 5], [], [2]]  # includes an empty history
    together = model.score(make_batch(users, rows))
    alone = torch.cat([model.score(make_batch([u], [r])) for u, r in zip(users, rows, strict=True)])
    # torch.allclose, not torch.testing.assert_close: the latter imports torch.distributed (~1 s)
    assert torch.allclose(together, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", BASELINES)
def test_same_seed_same_scores(name: str) -> None:
    batch = make_batch(list(range(len(TRAIN))), TRAIN)
    first = fitted(name, make_data(seed=7)).score(batch)
    again = fitted(name, make_data(seed=7)).score(batch)
    assert torch.equal(first, again)


def test_pop_scores_are_training_counts() -> None:
    scores = fitted("pop").score(make_batch([0, 3], [[1], [4, 5]]))
    expected = torch.tensor(COUNTS[1:], dtype=torch.float32).expand(2, -1)
    assert torch.equal(scores[:, 1:], expected)


def test_personal_topk_prefers_the_users_genre() -> None:
    batch = make_batch([3], [[4]])  # a genre-1 user
    scores = fitted("personal-topk").score(batch)[0]
    assert scores[5] > scores[2]  # same popularity, only item 5 is in the user's genre
    assert scores[6] > scores[3]
    only_genre = fitted("personal-topk", blend=1.0).score(batch)[0]
    assert only_genre[[4, 5, 6]].min() > only_genre[[1, 2, 3]].max()


def test_personal_topk_falls_back_to_popularity(caplog: pytest.LogCaptureFixture) -> None:
    batch = make_batch([0, 1], [[1, 2], []])
    with caplog.at_level(logging.WARNING):
        no_genres = fitted("personal-topk", make_data(with_genres=False)).score(batch)
    assert "no item genres" in caplog.text
    share = torch.tensor(COUNTS / COUNTS.sum(), dtype=torch.float32)
    assert torch.allclose(no_genres, share.expand(2, -1))
    empty_history = fitted("personal-topk").score(batch)[1]  # genres known, history empty
    assert torch.allclose(empty_history, share)


def test_itemknn_scores_co_watched_items_higher() -> None:
    scores = fitted("itemknn").score(make_batch([3], [[6]]))[0]
    assert scores[4] > 0 and scores[5] > 0  # watched together with item 6 by user 3
    assert scores[2] == 0 and scores[3] == 0  # never watched with item 6
    assert scores[4] > scores[2]


def test_als_uses_the_history_given_at_scoring_time() -> None:
    # The default regularisation suits MovieLens; on six items it would shrink every factor to ~0.
    model = fitted("mf-als", factors=4, regularization=0.1)
    before = model.score(make_batch([1], [[1, 2]]))
    after = model.score(make_batch([1], [[1, 2, 3]]))  # e.g. the validation item joins the input
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("alpha", [0.25, 2.0])
def test_als_confidence_of_an_observed_item_is_alpha(alpha: float) -> None:
    """implicit's convention, as documented: a fold-in user vector solves
    (YᵀY + Σ_obs (c - 1) y yᵀ + λI) x = Σ_obs c y with c = alpha."""
    model = fitted("mf-als", factors=4, regularization=0.1, alpha=alpha)
    history = [1, 2, 3]
    x = model._user_factors(make_batch([1], [history]))[0]
    y = np.asarray(model.model_.item_factors, dtype=np.float64)  # [n_items + 1, d]
    a = y.T @ y + 0.1 * np.eye(y.shape[1])
    a += (alpha - 1) * y[history].T @ y[history]
    expected = np.linalg.solve(a, alpha * y[history].sum(axis=0))
    np.testing.assert_allclose(x, expected, rtol=1e-4, atol=1e-5)


def test_itemknn_shrinkage_lowers_similarities_resting_on_few_users() -> None:
    from baselines.itemknn import cosine_neighbours

    # Items 1 and 2 share their one user; items 3 and 4 share their ten: both cosines are 1.
    users = [0, 0] + [u for u in range(1, 11) for _ in (3, 4)]
    items = [1, 2] + [i for _ in range(1, 11) for i in (3, 4)]
    item_users = sp.csr_matrix((np.ones(len(users)), (items, users)), shape=(5, 11))
    plain = cosine_neighbours(item_users, k=4).toarray()
    assert plain[1, 2] == pytest.approx(1.0) and plain[3, 4] == pytest.approx(1.0)
    shrunk = cosine_neighbours(item_users, k=4, shrinkage=10.0).toarray()
    assert shrunk[1, 2] == pytest.approx(1 / 11) and shrunk[3, 4] == pytest.approx(10 / 20)
    assert shrunk[2, 1] == shrunk[1, 2] and shrunk[1, 3] == 0.0


@pytest.mark.parametrize("shrinkage", [-1.0, float("nan"), float("inf")])
def test_itemknn_refuses_a_bad_shrinkage(shrinkage: float) -> None:
    from protocols.errors import InputError

    with pytest.raises(InputError, match="shrinkage"):
        fitted("itemknn", shrinkage=shrinkage)


def _history_matrix(rows: list, n_items: int) -> sp.csr_matrix:
    """Users' item lists as the binary [users, n_items + 1] matrix the solver reads."""
    lengths = [len(r) for r in rows]
    return sp.csr_matrix(
        (np.ones(sum(lengths)), np.concatenate(rows).astype(int), np.cumsum([0, *lengths])),
        shape=(len(rows), n_items + 1),
    )


@pytest.mark.parametrize("alpha", [0.25, 1.0, 30.0])
def test_als_user_solver_matches_the_normal_equations(alpha, monkeypatch) -> None:
    """Short histories go through the Woodbury identity, long ones (n > d) through the d x d
    system; chunks of users sorted by length must put every vector back in its own row."""
    from baselines.mf import ALS, UserSolver

    monkeypatch.setattr(UserSolver, "ELEMENTS", 200)  # many small chunks
    rng = np.random.default_rng(0)
    n_items, d = 30, 5
    y = rng.normal(size=(n_items + 1, d))
    params = ALS.Params(factors=d, regularization=0.3, alpha=alpha)
    rows = [
        sorted(rng.choice(np.arange(1, n_items + 1), size=n, replace=False))
        for n in [3, 0, 12, 1, 5, 6, 2, 20, 4, 4]
    ]
    got = UserSolver(y, params)(_history_matrix(rows, n_items))
    for row, items in zip(got, rows, strict=True):
        a = y.T @ y + 0.3 * np.eye(d) + (alpha - 1) * y[items].T @ y[items]
        expected = np.linalg.solve(a, alpha * y[items].sum(axis=0))
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-6)


def test_als_user_solver_is_right_with_several_threads() -> None:
    """torch's batched LU calls MKL from several threads at once and then fails or hangs
    (pytorch/pytorch#141358); the solver's systems must come out right at two threads, on
    batches of many users, both paths (n <= d and n > d)."""
    from baselines.mf import ALS, UserSolver

    rng = np.random.default_rng(1)
    n_items, d = 600, 160  # MKL's LU goes wrong from about this size (d = 48 does not show it)
    y = rng.normal(size=(n_items + 1, d)) / np.sqrt(d)
    params = ALS.Params(factors=d, regularization=0.5, alpha=3.0)
    lengths = [*range(100, 160, 4), *range(170, 260, 6)]  # Woodbury chunks, then d x d ones
    rows = [sorted(rng.choice(np.arange(1, n_items + 1), size=n, replace=False)) for n in lengths]
    history = _history_matrix(rows, n_items)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = UserSolver(y, params)(history)
    finally:
        torch.set_num_threads(threads)
    for row, items in zip(got, rows, strict=True):
        a = y.T @ y + 0.5 * np.eye(d) + 2.0 * y[items].T @ y[items]
        expected = np.linalg.solve(a, 3.0 * y[items].sum(axis=0))
        np.testing.assert_allclose(row, expected, rtol=1e-4, atol=1e-5)
