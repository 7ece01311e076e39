"""Re-rankers on hand-made cases whose lists are known, and their contract: strength 0 leaves
scores alone, a cap is never exceeded, kept slots are never touched, the model never changes."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from protocols.errors import InputError
from protocols.evaluate import rank_targets
from protocols.popularity import popularity_bands, short_head
from protocols.rerank import (
    LIST_LENGTH,
    RERANKERS,
    canonical,
    code_fingerprint,
    lift,
    make_reranker,
    parse_spec,
)
from protocols.types import UserBatch

N = 30  # items 1..30; the model ranks them by id, item 1 first
# items 1-2: the short head (first fifth of interactions); 21-30: the last fifth (tail)
POP = np.array([0, 100, 100, 39] + [33] * 17 + [20] * 10, dtype=float)  # 1,000 events
SCORES = torch.linspace(1.0, 0.0, N + 1)  # column 0 (padding) is never a candidate


def _batch(histories: list[list[int]]):
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.concatenate([h for h in histories]).astype(int) if histories else []
    csr = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(histories), N + 1))
    users = np.arange(len(histories))
    return UserBatch(users, torch.zeros(len(users), 1, dtype=torch.long), csr)


def _allowed(batch):
    allowed = torch.ones(len(batch), N + 1, dtype=torch.bool)
    allowed[:, 0] = False
    allowed[
        torch.as_tensor(batch.history.nonzero()[0]), torch.as_tensor(batch.history.nonzero()[1])
    ] = False
    return allowed


def _lists(scores: torch.Tensor, allowed: torch.Tensor) -> list[list[int]]:
    """Each row's first LIST_LENGTH allowed items by score (ties: the lower id)."""
    out = []
    for row, ok in zip(scores.double(), allowed, strict=True):
        items = [i for i in sorted(range(N + 1), key=lambda i: (-row[i].item(), i)) if ok[i]]
        out.append(items[:LIST_LENGTH])
    return out


def _rerank(spec, histories, seed=0):
    batch = _batch(histories)
    allowed = _allowed(batch)
    scores = SCORES.repeat(len(batch), 1)
    reranker = make_reranker(spec, POP, seed)
    if reranker.pool:
        pools = torch.stack(
            [torch.tensor(_pool(row, ok)) for row, ok in zip(scores, allowed, strict=True)]
        )
        reranker.plan(batch.users, pools.numpy())
    return reranker(scores, allowed, batch), allowed


def _pool(row, ok, size=200):
    items = _lists_all(row, ok)[:size]
    return items + [-1] * (size - len(items))


def _lists_all(row, ok):
    return [i for i in sorted(range(N + 1), key=lambda i: (-row[i].item(), i)) if ok[i]]


def test_the_groups_of_the_hand_made_catalogue():
    assert np.flatnonzero(short_head(POP)).tolist() == [1, 2]
    bands = popularity_bands(POP, 5)
    assert np.flatnonzero(bands == 4).tolist() == list(range(21, 31))


def test_five_rerankers_are_registered_with_their_strengths():
    assert {"pop-penalty", "calibrated", "xquad", "exposure-cap", "coverage-fill"} <= set(RERANKERS)
    assert parse_spec("xquad=0.5") == ("xquad", 0.5)
    assert canonical("pop-penalty=0.10") == "pop-penalty=0.1" and canonical("") == ""
    with pytest.raises(InputError, match="unknown re-ranker 'fairnes'"):
        parse_spec("fairnes=1")
    with pytest.raises(InputError, match=r"lambda must be in \[0, 1\]"):
        parse_spec("calibrated=2")
    with pytest.raises(InputError, match="cap must be >= 1"):
        parse_spec("exposure-cap=0.5")


@pytest.mark.parametrize("spec", ["pop-penalty=0", "calibrated=0", "xquad=0", "coverage-fill=0"])
def test_strength_zero_leaves_the_scores_untouched(spec):
    batch = _batch([[21, 22], [1]])
    scores = SCORES.repeat(2, 1)
    assert make_reranker(spec, POP, 0)(scores, _allowed(batch), batch) is scores


def test_lift_puts_the_list_first_in_order_and_keeps_the_rest():
    scores = torch.tensor([[0.0, 5.0, 4.0, 3.0, 2.0, 1e6]])
    lifted = lift(scores, torch.tensor([[3, 1, -1]]))
    order = torch.argsort(lifted[0, 1:], descending=True) + 1
    assert order.tolist() == [3, 1, 5, 2, 4]  # the list, then the model's order
    assert lifted.dtype == torch.float64 and torch.equal(
        lifted[0, [2, 4, 5]], scores[0, [2, 4, 5]].double()
    )


def test_calibrated_follows_the_user_s_popularity_taste():
    tail_fan = [23, 24, 25]  # history all tail: the list becomes the best tail items
    both = [1, 22]  # half head, half tail: head and tail alternate while head items last
    lifted, allowed = _rerank("calibrated=0.99", [tail_fan, both])
    lists = _lists(lifted, allowed)
    assert lists[0] == [21, 22, 26, 27, 28, 29, 30, 1, 2, 3]  # 7 tail items, then by score
    assert lists[1] == [2, 21, 23, 24, 25, 26, 27, 28, 29, 30]


def test_xquad_alternates_the_aspects_the_user_likes():
    lifted, allowed = _rerank("xquad=0.99", [[21, 22], [1, 25], [25, 26, 1]])
    lists = _lists(lifted, allowed)
    # a tail user: once the list holds a tail item the tail's gain shrinks to 1 / |list| and
    # the head's is 0, so the best head item takes the second slot on relevance alone
    assert lists[0] == [3, 1, *range(4, 12)]
    assert lists[1] == list(range(2, 12))  # head 2, tail 3, then the head has nothing left
    assert lists[2] == [3, 2, *range(4, 12)]  # P(tail) = 2/3 first, then the head's 1/3


def test_exposure_cap_two_identical_users_share_the_list_round_robin():
    lifted, allowed = _rerank("exposure-cap=1", [[], []])
    lists = _lists(lifted, allowed)
    assert sorted(lists) == [list(range(1, 20, 2)), list(range(2, 21, 2))]
    again, _ = _rerank("exposure-cap=1", [[], []])
    assert torch.equal(again, lifted)  # deterministic given the seed


def test_exposure_cap_is_never_exceeded_and_every_list_is_filled():
    rng = np.random.default_rng(0)
    histories = [
        rng.choice(np.arange(1, N + 1), size=rng.integers(0, 5), replace=False).tolist()
        for _ in range(12)
    ]
    lifted, allowed = _rerank("exposure-cap=4", histories)
    lists = _lists(lifted, allowed)
    counts = np.bincount(np.concatenate(lists), minlength=N + 1)
    assert counts.max() <= 4 and all(len(row) == LIST_LENGTH for row in lists)
    assert _lists(_rerank("exposure-cap=12", histories)[0], allowed) == _lists(
        SCORES.repeat(12, 1), allowed
    )


def test_exposure_cap_refuses_a_cap_that_cannot_fill_every_list():
    with pytest.raises(InputError, match="the cap must be >= 4"):
        make_reranker("exposure-cap=3", POP, 0).check_feasible(12, N)
    make_reranker("exposure-cap=4", POP, 0).check_feasible(12, N)


def test_coverage_fill_keeps_the_top_k_minus_m_and_fills_with_unshown_items():
    lifted, allowed = _rerank("coverage-fill=1", [[], [], []])
    lists = _lists(lifted, allowed)
    assert all(row[:9] == list(range(1, 10)) for row in lists)  # kept, untouched
    assert sorted(row[9] for row in lists) == [10, 11, 12]  # one unshown item each
    lifted, allowed = _rerank("coverage-fill=3", [[4], [], []])
    lists = _lists(lifted, allowed)
    assert lists[0][:7] == [1, 2, 3, 5, 6, 7, 8] and lists[1][:7] == list(range(1, 8))
    assert len({i for row in lists for i in row[7:]}) == 9  # nine fills, all different
    assert not {i for row in lists for i in row[7:]} & set(range(1, 9))  # none shown before


def test_the_code_fingerprint_names_the_package_source():
    assert code_fingerprint("xquad=0.5") == code_fingerprint("pop-penalty=1")
    assert len(code_fingerprint("xquad=0.5")) == 12


class Fixed:
    """A stand-in model scoring every user by item id (item 1 first), targets included."""

    name, training_ = "fixed", None

    def __init__(self):
        self.state = torch.linspace(1.0, 0.0, N + 1)

    def score(self, batch):
        return self.state.repeat(len(batch), 1)


def test_a_global_reranker_ranks_targets_by_their_list_position():
    from protocols.types import EvalSet, Histories

    users = np.arange(4)
    inputs = Histories(np.array([0, 1, 2, 3, 4]), np.array([29, 28, 27, 26]), np.zeros(4, int))
    targets = np.array([[1], [2], [12], [30]])
    model = Fixed()
    before = model.state.clone()
    plain = rank_targets(model, EvalSet(users, inputs, targets), N, 5, top_k=10)
    reranker = make_reranker("exposure-cap=2", POP, 0)
    capped = rank_targets(model, EvalSet(users, inputs, targets), N, 5, top_k=10, rerank=reranker)
    assert torch.equal(model.state, before)  # re-ranking never touches the model
    assert plain.full[:, 0].tolist() == [0, 1, 11, 28]
    lists = capped.top_items
    for row, target in zip(range(4), targets[:, 0], strict=True):
        listed = lists[row].tolist()
        expected = listed.index(target) if target in listed[:LIST_LENGTH] else None
        if expected is not None:
            assert capped.full[row, 0] == expected
    assert np.bincount(lists[:, :LIST_LENGTH].ravel(), minlength=N + 1).max() <= 2
