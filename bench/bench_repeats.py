"""The repeated-item exploit of issue 11, and the sampled-to-full estimate on a temporal split.

    python bench/bench_repeats.py [--dataset ml-100k] [--share 0.3] [--seeds 20]

1. A share of users is given a repeat of one of their earlier items as their last event. Under
   each `--repeats` policy, full-ranking test HR@10 of popularity and of a scorer that knows
   nothing ("1 if the user has seen the item, else 0") on the leave-one-out split. The old rule
   (history excluded but the target put back) let that scorer find every repeated target.
2. `--split temporal`: popularity's true full-ranking test HR@10 and its Krichene-Rendle
   estimate from 100 uniform negatives over several candidate seeds, with the old negatives
   (outside the user's whole history) and the per-part ones (that part's candidates).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from tabulate import tabulate

from benchmark.datasets import load_raw
from benchmark.models import create_model
from protocols.data import to_implicit
from protocols.estimate import estimate_full
from protocols.evaluate import rank_targets
from protocols.interface import Recommender
from protocols.metrics import summarise
from protocols.negatives import draw_candidates, item_weights, sample_negatives
from protocols.split import make_split
from protocols.types import FitData, RawData


class HistoryOnly(Recommender):
    def fit(self, data):
        return self

    def score(self, batch):
        return torch.as_tensor(batch.history.toarray(), dtype=torch.float32)


def with_repeats(raw: RawData, share: float, seed: int = 0) -> RawData:
    """`share` of the users get one earlier item again, after their last event."""
    rng = np.random.default_rng(seed)
    extra = []
    for user, events in raw.frame.groupby("user", sort=True):
        if rng.random() < share:
            item = events["item"].iloc[int(rng.integers(0, len(events)))]
            extra.append((user, item, int(events["timestamp"].max()) + 1))
    more = pd.DataFrame(extra, columns=["user", "item", "timestamp"])
    frame = pd.concat([raw.frame[["user", "item", "timestamp"]], more], ignore_index=True)
    return RawData(f"{raw.name}+repeats", frame)


def hr10(model, data, split, exclude: bool) -> float:
    ranks = rank_targets(model, split.test, data.n_items, 50, exclude_history=exclude)
    return summarise(ranks.full, (10,))["HR@10"]


def exploit_rows(raw: RawData, share: float) -> list[list]:
    rows = []
    for policy in ("first", "keep"):
        data = to_implicit(with_repeats(raw, share), repeats=policy)
        split = make_split(data, "loo")
        fit = FitData(split.train, data.n_users, data.n_items, split.valid, 50)
        pop = create_model("pop").fit(fit)
        exclude = policy == "first"
        rows.append(
            [policy, hr10(pop, data, split, exclude), hr10(HistoryOnly(), data, split, exclude)]
        )
    return rows


def old_rule_negatives(data, split, seed: int) -> np.ndarray:
    """The rule before per-part drawing: outside the user's whole history, one array."""
    users = split.test.users
    seen = data.histories.take(users).to_csr(data.n_items + 1)
    weights = item_weights("uniform", split.train, data.n_items)
    negatives = np.zeros((data.n_users, 100), dtype=np.int64)
    negatives[users] = sample_negatives(seen, 100, weights, np.random.default_rng([seed, 0x5EED]))
    return negatives


def estimate_rows(raw: RawData, seeds: int) -> list[list]:
    data = to_implicit(raw)
    split = make_split(data, "temporal")
    pop = create_model("pop").fit(FitData(split.train, data.n_users, data.n_items, split.valid, 50))
    rows = []
    for rule in ("old", "per part"):
        estimates = []
        for seed in range(seeds):
            if rule == "old":
                negatives = old_rule_negatives(data, split, seed)
            else:
                negatives = draw_candidates(data, split, 100, "uniform", seed)["test"]
            ranks = rank_targets(pop, split.test, data.n_items, 50, negatives)
            estimate = estimate_full(ranks.sampled, ranks.full_candidates, 100, (10,))["HR@10"]
            estimates.append(estimate.mean())
        true = summarise(ranks.full, (10,))["HR@10"]
        rows.append(
            [rule, split.test.n_users, true, estimates[0], np.mean(estimates), np.std(estimates)]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    raw = load_raw(args.dataset)
    print(f"{args.dataset}, {args.share:.0%} of users given a repeat as last event (loo, test):")
    print(tabulate(exploit_rows(raw, args.share), ["--repeats", "pop HR@10", "history-only HR@10"],
                   floatfmt=".4f", tablefmt="github"))  # fmt: skip
    print(f"\n{args.dataset}, --split temporal, pop, 100 uniform negatives per split part:")
    header = [
        "negatives",
        "test users",
        "true HR@10",
        "estimate seed 0",
        f"mean of {args.seeds} seeds",
        "sd",
    ]
    print(tabulate(estimate_rows(raw, args.seeds), header, floatfmt=".4f", tablefmt="github"))


if __name__ == "__main__":
    main()
