"""Shared helpers: tiny hand-made data sets built through the real loading path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.config import RunConfig
from benchmark.pipeline import make_fit_data
from protocols.data import to_implicit
from protocols.split import leave_one_out
from protocols.synthetic import generate
from protocols.types import Interactions, RawData


def interactions(events: list[tuple], items: pd.DataFrame | None = None) -> Interactions:
    """`events` are (user, item, timestamp) or (user, item, timestamp, rating) in file order."""
    columns = ["user", "item", "timestamp", "rating"][: len(events[0])]
    frame = pd.DataFrame(events, columns=columns)
    return to_implicit(RawData(name="hand-made", frame=frame, items=items))


def random_interactions(
    seed: int, n_users: int = 30, n_items: int = 40, max_len: int = 25
) -> Interactions:
    """Users with random distinct items and random (often tied) timestamps."""
    rng = np.random.default_rng(seed)
    events = []
    for u in range(n_users):
        length = int(rng.integers(1, max_len))
        for item in rng.choice(n_items, size=min(length, n_items), replace=False):
            events.append((u, int(item) + 100, int(rng.integers(0, 10))))
    return interactions(events)


def synthetic_world(seq_len: int = 10, **options):
    """(interactions, leave-one-out split, FitData) of a small synthetic data set."""
    data = to_implicit(generate(**options))
    split = leave_one_out(data)
    fit_data = make_fit_data(RunConfig().replace(seq_len=seq_len, device="cpu"), data, split)
    return data, split, fit_data


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Candidate caches of one test never leak into another (or into the user's cache)."""
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "cache"))
