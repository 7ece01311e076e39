"""Repeated items: the `--repeats` policies, and no candidate set that gives the target away."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import interactions
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.api import build_config
from benchmark.models import create_model
from benchmark.pipeline import run_one
from protocols.data import to_implicit
from protocols.errors import InputError
from protocols.evaluate import rank_targets
from protocols.interface import Recommender
from protocols.metrics import summarise
from protocols.split import leave_one_out, make_split
from protocols.synthetic import generate
from protocols.types import FitData, RawData


class HistoryOnly(Recommender):
    """The exploit of issue 11: 1 if the user has seen the item, else 0; knows nothing else."""

    def fit(self, data):
        return self

    def score(self, batch):
        return torch.as_tensor(batch.history.toarray(), dtype=torch.float32)


def _raw_with_repeats(seed: int, n_users: int, n_items: int, max_len: int) -> RawData:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        length = int(rng.integers(1, max_len))
        items = rng.integers(1, n_items + 1, size=length)  # repeats are common
        times = np.sort(rng.integers(0, 12, size=length))  # many ties
        rows += [(user, int(i), int(t)) for i, t in zip(items, times, strict=True)]
    return RawData("repeats", pd.DataFrame(rows, columns=["user", "item", "timestamp"]))


def test_first_keeps_the_first_event_of_each_pair_in_time_order():
    # file order is not time order: (1, 7) at t=5 comes first in the file, its t=2 event later
    data = interactions([(1, 7, 5), (1, 8, 3), (1, 7, 2), (1, 8, 3), (1, 9, 9), (2, 7, 1)])
    assert data.item_ids[data.histories.row(0)].tolist() == [7, 8, 9]
    assert data.histories.timestamps[:3].tolist() == [2, 3, 9]
    assert data.stats["repeats_dropped"] == 2


def test_keep_keeps_every_event_and_unknown_policy_is_refused():
    frame = pd.DataFrame({"user": [1, 1, 1], "item": [7, 8, 7], "timestamp": [1, 2, 3]})
    kept = to_implicit(RawData("r", frame), repeats="keep")
    assert kept.item_ids[kept.histories.row(0)].tolist() == [7, 8, 7]
    assert "repeats_dropped" not in kept.stats
    with pytest.raises(InputError, match="unknown --repeats 'last'"):
        to_implicit(RawData("r", frame), repeats="last")


def test_a_target_inside_the_excluded_history_is_refused():
    frame = pd.DataFrame({"user": [1] * 4, "item": [7, 8, 9, 7], "timestamp": [1, 2, 3, 4]})
    data = to_implicit(RawData("r", frame), repeats="keep")
    split = leave_one_out(data)
    with pytest.raises(InputError, match=r"target item\(s\) are in the user's input history"):
        rank_targets(HistoryOnly(), split.test, data.n_items, 5)
    ranks = rank_targets(HistoryOnly(), split.test, data.n_items, 5, exclude_history=False)
    assert ranks.full.tolist() == [[2]]  # ties with the other history items 8 and 9


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    repeats=st.sampled_from(["first", "keep"]),
    split_name=st.sampled_from(["loo", "temporal"]),
)
def test_the_target_is_never_the_only_history_item_among_the_candidates(seed, repeats, split_name):
    data = to_implicit(_raw_with_repeats(seed, 20, 15, 25), repeats=repeats)
    try:
        split = make_split(data, split_name, quantile=0.6)
    except InputError:  # no user to test
        return
    exclude = repeats == "first"
    for eval_set in (split.valid, split.test):
        ranks = rank_targets(HistoryOnly(), eval_set, data.n_items, 5, exclude_history=exclude)
        for row in range(eval_set.n_users):
            seen = set(eval_set.inputs.row(row).tolist())
            target = int(eval_set.targets[row, 0])
            if exclude:  # no history item is a candidate, and the target is not in the history
                assert target not in seen
                assert ranks.full_candidates[row] == data.n_items - len(seen)
                assert ranks.full[row, 0] == ranks.full_candidates[row] - 1  # scores all 0
            else:  # every history item is a candidate: the target ties with all of them
                assert ranks.full_candidates[row] == data.n_items
                expected = len(seen) - 1 if target in seen else data.n_items - 1
                assert ranks.full[row, 0] == expected


def _repeat_world(repeats: str):
    """Synthetic data where 30% of users repeat an earlier item as their last event."""
    raw = generate(n_users=300, n_items=200, mean_length=30, min_length=15, seed=3)
    frame = raw.frame
    rng = np.random.default_rng(0)
    extra = []
    for user, events in frame.groupby("user", sort=True):
        if rng.random() < 0.3:
            earlier = events.iloc[int(rng.integers(0, len(events) - 1))]
            extra.append((user, int(earlier["item"]), int(events["timestamp"].max()) + 1))
    more = pd.DataFrame(extra, columns=["user", "item", "timestamp"])
    both = pd.concat([frame[["user", "item", "timestamp"]], more], ignore_index=True)
    return to_implicit(RawData("repeat-world", both), repeats=repeats)


@pytest.mark.parametrize("split_name", ["loo", "temporal"])
@pytest.mark.parametrize("repeats", ["first", "keep"])
def test_history_only_scorer_does_not_beat_popularity(repeats, split_name):
    data = _repeat_world(repeats)
    split = make_split(data, split_name)
    fit = FitData(split.train, data.n_users, data.n_items, split.valid, 10)
    pop = create_model("pop").fit(fit)
    exclude = repeats == "first"
    hr = {}
    for name, model in (("pop", pop), ("history", HistoryOnly())):
        ranks = rank_targets(model, split.test, data.n_items, 10, exclude_history=exclude)
        hr[name] = summarise(ranks.full, (10,))["HR@10"]
    assert hr["pop"] > 0.02 and hr["history"] <= hr["pop"], hr


def test_the_repeat_world_has_repeated_targets():
    split = leave_one_out(_repeat_world("keep"))
    repeated = [
        int(split.test.targets[r, 0]) in set(split.test.inputs.row(r).tolist())
        for r in range(split.test.n_users)
    ]
    assert 0.2 < np.mean(repeated) < 0.4  # the exploit test above is not vacuous


@pytest.mark.parametrize("repeats", ["first", "keep"])
def test_pipeline_records_the_policy_and_trains_under_it(tmp_path, repeats):
    raw = _raw_with_repeats(5, 40, 30, 30)
    path = tmp_path / "events.csv"
    raw.frame.to_csv(path, index=False)
    config = build_config(
        "gru",
        {"epochs": 1, "emb_dim": 8},
        dataset=f"csv:{path}",
        repeats=repeats,
        seq_len=5,
        num_negatives=10,
        ks=(5,),
    )
    record, _ = run_one(config)
    assert record.protocol["repeats"] == repeats
    assert record.config.data.repeats == repeats
    dropped = record.dataset["stats"].get("repeats_dropped", 0)
    assert (dropped > 0) == (repeats == "first")
