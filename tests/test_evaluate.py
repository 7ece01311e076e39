"""Ranks from score matrices: exact values for perfect, reversed and constant scorers."""

import numpy as np
import pytest
import torch
from conftest import random_interactions

from baselines.popularity import Popularity
from protocols import metrics
from protocols.errors import InputError, TrainingError
from protocols.evaluate import rank_targets
from protocols.interface import Recommender
from protocols.negatives import draw_candidates
from protocols.sequences import last_items
from protocols.split import leave_one_out
from protocols.types import EvalSet, FitData, Histories, UserBatch


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


def _reference_ranks(model, eval_set, n_items, seq_len, negatives, exclude_history=True):
    """The slow, obviously correct definition: one user and one target at a time."""
    history = eval_set.inputs.to_csr(n_items + 1)
    sequences = torch.from_numpy(last_items(eval_set.inputs, seq_len))
    full, sampled = [], []
    for u in range(eval_set.n_users):
        batch = UserBatch(eval_set.users[u : u + 1], sequences[u : u + 1], history[u : u + 1])
        scores = model.score(batch)[0].float().numpy()
        seen = set(history[u].indices.tolist()) if exclude_history else set()
        candidates = [j for j in range(1, n_items + 1) if j not in seen]
        targets = eval_set.targets[u].tolist()
        pool = targets + negatives[eval_set.users[u]].tolist()
        full.append([sum(scores[j] >= scores[t] for j in candidates) - 1 for t in targets])
        sampled.append([sum(scores[j] >= scores[t] for j in pool) - 1 for t in targets])
    return np.array(full), np.array(sampled), len(candidates)


class Ties(Recommender):
    """Random scores from a handful of values (many ties), some of them -inf and +inf."""

    def __init__(self, n_items):
        super().__init__()
        self.n_items = n_items

    def fit(self, data):
        return self

    def score(self, batch):
        gens = [torch.Generator().manual_seed(int(u) * 7 + 1) for u in batch.users]
        values = torch.tensor([-torch.inf, 0.0, 0.5, 1.0, 2.0, torch.inf])
        picks = torch.stack([torch.randint(0, 6, (self.n_items + 1,), generator=g) for g in gens])
        return values[picks]


def _multi_target_set(seed, n_users=30, n_items=40, n_targets=4):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 12, n_users)
    items, targets = [], []
    for length in lengths:
        drawn = rng.choice(np.arange(1, n_items + 1), length + n_targets, replace=False)
        items.append(drawn[:length])
        targets.append(drawn[length:])
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate(items).astype(np.int64)
    inputs = Histories(indptr, flat, np.zeros_like(flat))
    return EvalSet(np.arange(n_users), inputs, np.array(targets, dtype=np.int64))


@pytest.mark.parametrize("exclude_history", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_ranks_equal_the_per_target_reference(seed, exclude_history):
    n_items = 40
    eval_set = _multi_target_set(seed, n_items=n_items)
    negatives = np.random.default_rng(seed).integers(1, n_items + 1, (eval_set.n_users, 9))
    model = Ties(n_items)
    ranks = rank_targets(
        model, eval_set, n_items, 5, negatives, batch_size=7, exclude_history=exclude_history
    )
    full, sampled, _ = _reference_ranks(model, eval_set, n_items, 5, negatives, exclude_history)
    assert np.array_equal(ranks.full, full) and np.array_equal(ranks.sampled, sampled)
    lengths = eval_set.inputs.lengths if exclude_history else 0
    assert (ranks.full_candidates == n_items - lengths).all()


def test_pop_metrics_equal_the_reference(setup):
    data, split, negatives = setup
    fit = FitData(data.histories, data.n_users, data.n_items, split.valid, 5)
    model = Popularity().fit(fit)
    ranks = _ranks(model, data, split, negatives)
    full, sampled, _ = _reference_ranks(model, split.test, data.n_items, 5, negatives)
    for ours, reference in ((ranks.full, full), (ranks.sampled, sampled)):
        assert metrics.summarise(ours, (1, 5, 10)) == metrics.summarise(reference, (1, 5, 10))


def test_a_target_in_its_own_history_is_refused_unless_history_stays():
    eval_set = _multi_target_set(3)
    row = int(np.argmax(eval_set.inputs.lengths))
    targets = eval_set.targets.copy()
    targets[row, 0] = eval_set.inputs.row(row)[0]  # a repeat of an input item
    leaky = EvalSet(eval_set.users, eval_set.inputs, targets)
    with pytest.raises(InputError, match="input history"):
        rank_targets(Ties(40), leaky, 40, 5)
    ranks = rank_targets(Ties(40), leaky, 40, 5, exclude_history=False)
    assert (ranks.full_candidates == 40).all()


def test_a_reranker_rescores_before_both_protocols(setup):
    data, split, negatives = setup
    seen = []

    class Reverse:
        pool = 0

        def __call__(self, scores, allowed, batch):
            seen.append(bool(allowed[:, 0].any()))  # padding is never a candidate
            return -scores

    ranks = rank_targets(
        Oracle(split.test, data.n_items), split.test, data.n_items, 5, negatives, rerank=Reverse()
    )
    assert seen == [False] and (ranks.sampled == 20).all()
    assert (ranks.full[:, 0] == ranks.full_candidates - 1).all()


def test_a_wrong_score_shape_is_a_training_error(setup):
    data, split, negatives = setup

    class Short(Oracle):
        def score(self, batch):
            return torch.zeros(len(batch), self.n_items)

    with pytest.raises(TrainingError, match="expected"):
        _ranks(Short(split.test, data.n_items), data, split, negatives)


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

    with pytest.raises(TrainingError, match="NaN"):
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


@pytest.mark.parametrize("top_k", [0, 5])
def test_one_nan_candidate_is_refused(setup, top_k):
    data, split, negatives = setup

    class OneNan(Oracle):
        def score(self, batch):
            scores = super().score(batch)
            scores[0, 1 + int(batch.users[0]) % self.n_items] = float("nan")
            return scores

    model = OneNan(split.test, data.n_items)
    with pytest.raises(TrainingError, match="NaN"):
        rank_targets(model, split.test, data.n_items, 5, negatives, batch_size=7, top_k=top_k)


def test_top_lists_skip_excluded_items_and_fit_small_catalogues(setup):
    data, split, negatives = setup
    fit = FitData(data.histories, data.n_users, data.n_items, split.valid, 5)
    ranks = rank_targets(Popularity().fit(fit), split.test, data.n_items, 5, top_k=500)
    history = split.test.inputs.to_csr(data.n_items + 1)
    assert ranks.top_items.shape[1] == data.n_items
    for u, top in enumerate(ranks.top_items):
        seen = set(history[u].indices.tolist())
        kept = [i for i in top.tolist() if i > 0 and i not in seen]
        assert kept == top[: len(kept)].tolist()  # candidates first, best first
        assert len(kept) == data.n_items - len(seen)
        assert (top[len(kept) :] == -1).all()  # then empty slots, never an excluded item


class RandomScores(Recommender):
    """Per-user random scores drawn from few values (many ties), -0.0, +0.0 and -inf among
    them; optionally one NaN in the first user's row, in a chunk of otherwise low scores."""

    def __init__(self, n_items, nan=False):
        super().__init__()
        self.n_items, self.nan = n_items, nan

    def fit(self, data):
        return self

    def score(self, batch):
        values = torch.tensor([-torch.inf, -0.0, 0.0, *range(1, 300)])
        gens = [torch.Generator().manual_seed(int(u)) for u in batch.users]
        picks = [torch.randint(0, len(values), (self.n_items + 1,), generator=g) for g in gens]
        scores = values[torch.stack(picks)]
        if self.nan:
            scores[0, 1216:1280] = -1.0
            scores[0, 1234] = float("nan")
        return scores


def _expected_top(scores: np.ndarray, excluded: set, k: int) -> list:
    """The definition: by score, equal scores by the lower id; excluded items (padding
    included) never enter: a row with fewer than k candidates ends in -1 (empty slots)."""
    keys = [(np.inf if j in excluded else -scores[j], j) for j in range(len(scores))]
    return [-1 if j in excluded else j for _, j in sorted(keys)[:k]]


@pytest.mark.parametrize("n_items", [50, 6000])  # one chunk; 94 chunks of 64 > k: two stages
def test_top_lists_order_ties_by_item_id_on_every_path(n_items):
    k = 20
    eval_set = _multi_target_set(4, n_users=25, n_items=n_items, n_targets=1)
    model = RandomScores(n_items)
    ranks = rank_targets(model, eval_set, n_items, 5, batch_size=8, top_k=k)
    history = eval_set.inputs.to_csr(n_items + 1)
    for u, top in enumerate(ranks.top_items):
        scores = model.score(UserBatch(eval_set.users[u : u + 1], None, None))[0].numpy()
        excluded = {0, *history[u].indices.tolist()}
        assert top.tolist() == _expected_top(scores, excluded, k)
    with pytest.raises(TrainingError, match="NaN"):
        rank_targets(RandomScores(6000, nan=True), eval_set, 6000, 5, top_k=k)


def test_a_row_with_fewer_candidates_than_the_top_list_ends_in_empty_slots():
    n_items, k = 6000, 20
    history = np.arange(1, n_items - 4, dtype=np.int64)  # all but the last 5 items
    inputs = Histories(np.array([0, len(history)]), history, np.zeros_like(history))
    eval_set = EvalSet(np.array([0]), inputs, np.array([[n_items]]))
    model = RandomScores(n_items)
    top = rank_targets(model, eval_set, n_items, 5, top_k=k).top_items[0]
    scores = model.score(UserBatch(eval_set.users, None, None))[0].numpy()
    assert top.tolist() == _expected_top(scores, {0, *history.tolist()}, k)
    assert sorted(top[:5].tolist()) == list(range(n_items - 4, n_items + 1))
    assert (top[5:] == -1).all()


def test_order_keys_follow_the_value_then_the_lower_position():
    from protocols.evaluate import order_keys

    values = torch.tensor([-0.0, 0.0, -torch.inf, 2.5, -3.0, torch.inf, -0.0, 1e-30, -1e-30, 2.5])
    positions = torch.arange(len(values))
    order = order_keys(values, positions).argsort(descending=True).tolist()
    expected = sorted(range(len(values)), key=lambda j: (-values[j].item(), j))
    assert order == expected  # -0.0 ties with +0.0; +-inf at the ends


class FewValues(Recommender):
    """Per-user random scores from five values (ties everywhere), returned in `dtype`."""

    def __init__(self, n_items, dtype):
        super().__init__()
        self.n_items, self.dtype = n_items, dtype

    def fit(self, data):
        return self

    def score(self, batch):
        values = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.5])
        gens = [torch.Generator().manual_seed(int(u) + 11) for u in batch.users]
        picks = [torch.randint(0, 5, (self.n_items + 1,), generator=g) for g in gens]
        return values[torch.stack(picks)].to(self.dtype)


# float16 scores on the CPU take the torch branch of _at_or_above; its ranks are the definition's
def test_half_precision_ranks_count_ties_against_the_target(monkeypatch):
    import protocols.evaluate as evaluate

    n_items, real_count, counted = 40, evaluate._count, []

    def spy(hits, **kw):  # without negatives, only the torch branch of _at_or_above counts
        counted.append(hits.shape)
        return real_count(hits, **kw)

    monkeypatch.setattr(evaluate, "_count", spy)
    eval_set = _multi_target_set(5, n_items=n_items)
    model = FewValues(n_items, torch.float16)
    half = rank_targets(model, eval_set, n_items, 5, batch_size=7)
    assert len(counted) == 5 and all(shape[2] == n_items + 1 for shape in counted)  # 30 / 7
    counted.clear()
    single = rank_targets(FewValues(n_items, torch.float32), eval_set, n_items, 5, batch_size=7)
    assert counted == []  # float32 on the CPU: the numpy branch
    history = eval_set.inputs.to_csr(n_items + 1)
    expected, ties = [], 0
    for u in range(eval_set.n_users):
        s = model.score(UserBatch(eval_set.users[u : u + 1], None, None))[0]
        candidates = set(range(1, n_items + 1)) - set(history[u].indices.tolist())
        row = []
        for t in eval_set.targets[u].tolist():
            row.append(sum(bool(s[j] >= s[t]) for j in candidates - {t}))
            ties += sum(bool(s[j] == s[t]) for j in candidates - {t})
        expected.append(row)
    assert ties > 0  # some candidates tie with their target
    assert np.array_equal(half.full, expected) and np.array_equal(single.full, expected)
