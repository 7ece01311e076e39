"""Does a capped table rank the models as their converged runs do?

    PYTHONPATH=. python bench/bench_capped_order.py results/ml-100k results/ml-100k-converged
    ... --split valid      # what a remedy is chosen on; test is what it is reported on

Both folders hold `benchmark.run` records of the same data set and protocol, the first with the
deep models capped (`--epochs 10`, a laptop's `make benchmark`), the second trained to early
stopping. For every pair of models the converged runs separate by more than one standard error,
the capped table must order them the same way. The standard error is the larger of two: that of
the paired difference over test users (each user's metric averaged over a model's seeds: how well
the test set tells the two apart) and, where both models ran several seeds, that of the
difference of their seed means (how much they move with the seed). Prints the models side by
side, then every pair ordered the other way; exit status 0 either way. Either folder may be a
tuned leaderboard's (`results/leaderboard/<data set>`, with a best.json): only its chosen
configurations' test runs count there.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tabulate import tabulate

from benchmark.records import RunRecord
from benchmark.report.runs import by_label, read_all, rerank_of
from benchmark.report.significance import per_user_metric
from benchmark.tune.best import BEST, is_chosen, tuned_params


class Runs(NamedTuple):
    users: np.ndarray
    values: np.ndarray  # per user, averaged over the seeds
    seed_means: np.ndarray  # one per seed


def plain_runs(folder: Path) -> list[list[RunRecord]]:
    """The folder's plain (not re-ranked) runs, one list per configuration; of a tuned folder
    (best.json) only the chosen configurations', whose parameters all match best.json's."""
    groups = [recs for recs in by_label(read_all([folder])).values() if not rerank_of(recs[0])[0]]
    if not (folder / BEST).exists():
        return groups
    chosen = tuned_params(folder)
    return [recs for recs in groups if is_chosen(recs[0], chosen)]


def per_model(folder: Path, metric: str, protocol: str, split: str) -> dict[str, Runs]:
    """{model: its plain runs' metric on `split`}, one configuration per model."""
    found = {}
    for recs in plain_runs(folder):
        model = recs[0].model
        if model in found:
            raise SystemExit(f"{folder}: two configurations of {model}; keep one per model")
        users, values = per_user_metric(recs, metric, protocol, split)
        seeds = np.array([r.metric(protocol, split, metric) for r in recs])
        found[model] = Runs(users, values, seeds)
    return found


def paired(a: Runs, b: Runs) -> np.ndarray:
    """Per-user differences a - b over the users both ranked."""
    _, ia, ib = np.intersect1d(a.users, b.users, return_indices=True)
    return a.values[ia] - b.values[ib]


def standard_error(a: Runs, b: Runs) -> float:
    """Of the difference a - b: over users, or over seeds where that is larger."""
    diff = paired(a, b)
    over_users = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    if min(len(a.seed_means), len(b.seed_means)) < 2:
        return float(over_users)
    over_seeds = np.sqrt(sum(r.seed_means.var(ddof=1) / len(r.seed_means) for r in (a, b)))
    return float(max(over_users, over_seeds))


def discordant_pairs(
    capped: dict[str, float], converged: dict[str, Runs], threshold: float = 1.0
) -> tuple[list, int]:
    """The pairs whose converged difference exceeds `threshold` standard errors and the capped
    table (each model's mean over the split's users) orders the other way (or ties), and how
    many pairs exceeded it."""
    rows, separated = [], 0
    for a, b in itertools.combinations(sorted(set(capped) & set(converged)), 2):
        diff = paired(converged[a], converged[b]).mean()
        se = standard_error(converged[a], converged[b])
        if se == 0.0 or abs(diff) <= threshold * se:
            continue
        separated += 1
        capped_diff = capped[a] - capped[b]
        if np.sign(capped_diff) != np.sign(diff):
            better, worse = (a, b) if diff > 0 else (b, a)
            rows.append([better, worse, abs(diff) / se, -abs(capped_diff)])
    return rows, separated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capped", type=Path)
    parser.add_argument("converged", type=Path)
    parser.add_argument("--metric", default="full:NDCG@10", help="PROTOCOL:METRIC")
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    args = parser.parse_args()
    protocol, metric = args.metric.split(":")
    capped = per_model(args.capped, metric, protocol, args.split)
    converged = per_model(args.converged, metric, protocol, args.split)
    common = sorted(set(capped) & set(converged), key=lambda m: -converged[m][1].mean())
    rank = {m: i + 1 for i, m in enumerate(sorted(common, key=lambda m: -capped[m].values.mean()))}
    print(
        f"{args.metric} on {args.split}: {args.capped} (capped) and {args.converged} (converged)\n"
    )
    rows = [
        [m, f"{converged[m].values.mean():.4f}", i + 1, f"{capped[m].values.mean():.4f}", rank[m]]
        for i, m in enumerate(common)
    ]
    print(tabulate(rows, ["model", "converged", "rank", "capped", "rank"], tablefmt="github"))
    wrong, separated = discordant_pairs({m: r.values.mean() for m, r in capped.items()}, converged)
    print(
        f"\n{separated} of {len(common) * (len(common) - 1) // 2} pairs separated by more than "
        f"one standard error when converged; the capped table orders {len(wrong)} of them the "
        "other way"
    )
    if wrong:
        header = ["converged better", "than", "by (standard errors)", "capped difference"]
        print(tabulate(wrong, header, tablefmt="github", floatfmt=".4f"))


if __name__ == "__main__":
    main()
