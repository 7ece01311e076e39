"""The synthetic generator: seeded, sized as asked, no repeats, time order, sequence signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import InputError
from protocols.synthetic import generate


@pytest.fixture(scope="module")
def raw():
    return generate(n_users=400, n_items=300, n_clusters=10, mean_length=30, seed=1)


def clusters_of(raw, items: np.ndarray) -> np.ndarray:
    genre = raw.items.loc[items, "genres"].to_numpy()
    return np.array([int(g[0].split()[1]) for g in genre])


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b = generate(n_users=50, seed=7), generate(n_users=50, seed=7)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    pd.testing.assert_frame_equal(a.items, b.items)
    c = generate(n_users=50, seed=8)
    assert len(a.frame) != len(c.frame) or not a.frame.equals(c.frame)


def test_sizes_are_roughly_as_asked(raw) -> None:
    lengths = raw.frame.groupby("user").size()
    assert len(lengths) == 400 and lengths.index.tolist() == list(range(1, 401))
    assert lengths.min() >= 5
    assert 0.85 * 30 < lengths.mean() < 1.15 * 30
    assert raw.frame["item"].between(1, 300).all()
    assert len(raw.items) == 300 and raw.items.loc[7, "title"] == "item 7"
    assert list(raw.frame.columns) == ["user", "item", "timestamp"]
    assert all(raw.frame[c].dtype == np.int64 for c in raw.frame.columns)


def test_no_repeats_and_time_increases_within_user(raw) -> None:
    frame = raw.frame
    assert not frame.duplicated(["user", "item"]).any()
    same_user = frame["user"].to_numpy()[1:] == frame["user"].to_numpy()[:-1]
    assert (np.diff(frame["timestamp"].to_numpy())[same_user] > 0).all()


def test_next_item_follows_the_cluster_walk(raw) -> None:
    frame = raw.frame
    same_user = frame["user"].to_numpy()[1:] == frame["user"].to_numpy()[:-1]
    cluster = clusters_of(raw, frame["item"].to_numpy())
    now, after = cluster[:-1][same_user], cluster[1:][same_user]
    stay = np.mean(after == now)
    forward = np.mean((after == now) | (after == (now + 1) % 10))
    assert forward > 0.97  # chance would be 2 / 10
    assert 0.6 < stay < 0.8  # stay_probability = 0.7


def test_popularity_is_skewed(raw) -> None:
    counts = np.sort(raw.frame["item"].value_counts().to_numpy())[::-1]
    assert counts[:30].sum() > 3 * counts[-30:].sum()


def test_bad_options_are_input_errors() -> None:
    with pytest.raises(InputError, match="n_clusters"):
        generate(n_items=5, n_clusters=10)
    with pytest.raises(InputError, match="stay_probability"):
        generate(stay_probability=1.5)
    with pytest.raises(InputError, match="min_length"):
        generate(mean_length=3, min_length=5)
    with pytest.raises(InputError, match="n_users must be a whole number, got 10.5"):
        generate(n_users=10.5)


@settings(max_examples=25, deadline=None)
@given(
    n_users=st.integers(1, 40),
    n_items=st.integers(4, 60),
    n_clusters=st.integers(1, 4),
    mean_length=st.integers(2, 12),
    stay=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_invariants_hold_for_any_options(n_users, n_items, n_clusters, mean_length, stay, seed):
    raw = generate(n_users, n_items, n_clusters, mean_length, 2, 1.0, stay, seed)
    frame = raw.frame
    assert not frame.duplicated(["user", "item"]).any()
    assert frame["item"].between(1, n_items).all()
    assert frame["user"].is_monotonic_increasing
    same_user = frame["user"].to_numpy()[1:] == frame["user"].to_numpy()[:-1]
    assert (np.diff(frame["timestamp"].to_numpy())[same_user] > 0).all()
