"""The popularity penalty, the short head and popularity bands."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.popularity import head_share, item_popularity, popularity_bands, short_head
from protocols.rerank.penalty import PopularityPenalty, penalise, standardised_log_popularity
from protocols.types import Histories

POP = np.array([0, 50, 30, 10, 5, 3, 1, 1, 0], dtype=float)  # item 0 is padding; 100 events


def test_short_head_is_the_items_making_up_the_first_20_percent():
    head = short_head(POP)
    assert head.tolist() == [False, True] + [False] * 7  # item 1 alone crosses 20%
    head = short_head(POP, share=0.6)
    assert np.flatnonzero(head).tolist() == [1, 2]  # 50 < 60, 80 crosses 60


def test_popularity_bands_split_interactions_in_fifths():
    bands = popularity_bands(POP)
    assert bands[0] == -1
    assert bands[1] == 0  # first 50 interactions: bands 0..2 start inside it; item keeps band 0
    assert bands[2] == 2  # 50 interactions before it
    assert bands[3] == 4 and bands[8] == 4  # 80+ before: last band; unseen items too
    assert (bands[1:] >= 0).all() and (np.diff(bands[1:]) >= 0).all()  # monotone in popularity


def test_band_zero_is_the_short_head():
    rng = np.random.default_rng(0)
    pop = np.concatenate([[0], rng.zipf(1.5, size=300).astype(float)])
    assert np.array_equal(popularity_bands(pop) == 0, short_head(pop))


def _world(seed=0, users=6, items=40):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(users, items + 1, generator=g) * 7 + 3
    candidates = torch.rand(users, items + 1, generator=g) > 0.3
    candidates[:, 0] = False
    pop = np.concatenate([[0.0], np.random.default_rng(seed).zipf(1.6, size=items)])
    return scores, candidates, torch.as_tensor(standardised_log_popularity(pop))


def test_alpha_zero_is_the_identity():
    scores, candidates, pop_z = _world()
    assert penalise(scores, candidates, pop_z, 0.0) is scores


@settings(max_examples=30, deadline=None)
@given(
    alpha=st.floats(0.01, 3),
    log_scale=st.integers(-8, 8),
    shift=st.integers(-100, 100),
    seed=st.integers(0, 50),
)
def test_one_alpha_is_one_strength_whatever_the_score_scale(alpha, log_scale, shift, seed):
    scores, candidates, pop_z = _world(seed)
    a = penalise(scores, candidates, pop_z, alpha)
    b = penalise(scores * 2.0**log_scale + shift, candidates, pop_z, alpha)  # exact in float32
    assert torch.allclose(a[candidates], b[candidates], atol=1e-3)


def test_penalty_moves_rankings_towards_the_long_tail():
    scores, candidates, pop_z = _world(1, users=50, items=200)

    def tail_share(s):
        top = s.masked_fill(~candidates, -torch.inf).topk(10, dim=1).indices
        return float((pop_z[top] < 0).float().mean())

    shares = [tail_share(penalise(scores, candidates, pop_z, a)) for a in (0, 0.5, 2, 10)]
    assert shares == sorted(shares) and shares[-1] > shares[0]


def test_constant_scores_are_ranked_by_inverse_popularity_under_a_penalty():
    scores = torch.zeros(1, 9)
    candidates = torch.ones(1, 9, dtype=torch.bool)
    candidates[0, 0] = False
    z = torch.as_tensor(standardised_log_popularity(POP))
    penalised = penalise(scores, candidates, z, 1.0)
    assert torch.isfinite(penalised).all()
    assert penalised[0, 8] > penalised[0, 1]  # the unseen item beats the most popular one


def test_the_penalty_transform_is_penalise_and_popularity_counts_training_events():
    from protocols.data import item_popularity as old_home

    train = Histories(np.array([0, 3, 5]), np.array([1, 2, 1, 3, 1]), np.zeros(5, dtype=int))
    assert item_popularity(train, 4).tolist() == [0, 3, 1, 1, 0]
    assert old_home is item_popularity
    scores, candidates, _ = _world()
    pop = np.concatenate([[0.0], np.random.default_rng(0).zipf(1.6, size=40)])
    pop_z = torch.as_tensor(standardised_log_popularity(pop))
    rerank = PopularityPenalty(0.5, pop)
    assert torch.equal(rerank(scores, candidates, None), penalise(scores, candidates, pop_z, 0.5))


def test_penalised_scores_match_the_definition_on_a_hand_made_example():
    # pins: score z-scored over candidates minus alpha * z-scored log(1 + pop) over items 1..n
    pop = np.array([0, 9, 3, 0, 1, 7, 0], dtype=float)  # column 0 is padding; items 3, 6 unseen
    logs = np.log([10.0, 4.0, 1.0, 2.0, 8.0, 1.0])  # log(1 + pop) of items 1..6
    z = (logs - logs.mean()) / np.sqrt(((logs - logs.mean()) ** 2).mean())
    np.testing.assert_allclose(standardised_log_popularity(pop), [0.0, *z], rtol=1e-6, atol=1e-6)
    scores = np.array([[5.0, 0, 1, 2, 3, 4, 5], [-7.0, 2, 100, 2, 6, 0, 8]])
    candidates = np.ones_like(scores, dtype=bool)
    candidates[:, 0] = False
    candidates[1, 2] = False  # an excluded history item: its score 100 counts for nothing
    expected = np.empty_like(scores)
    for user, (row, allowed) in enumerate(zip(scores, candidates, strict=True)):
        kept = row[allowed]
        spread = np.sqrt(((kept - kept.mean()) ** 2).mean())
        expected[user] = (row - kept.mean()) / spread - 0.5 * np.array([0.0, *z])
    penalty = PopularityPenalty(0.5, pop)
    got = penalty(torch.tensor(scores, dtype=torch.float32), torch.tensor(candidates), None)
    got = got.numpy()
    np.testing.assert_allclose(got[candidates], expected[candidates], rtol=1e-5, atol=1e-5)


def test_head_share_is_each_history_s_share_of_short_head_items():
    head = short_head(POP)  # item 1 only
    rows = Histories(np.array([0, 2, 2, 5]), np.array([1, 3, 1, 1, 4]), np.zeros(5, dtype=int))
    assert head_share(rows, head).tolist() == [0.5, 0.0, 2 / 3]  # the empty row counts 0
