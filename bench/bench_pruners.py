"""What multi-fidelity search costs and loses against the median pruner, from a finished study.

    python -m benchmark.tune.leaderboard studies/pruners-ml-100k.toml     # the searches (resumable)
    PYTHONPATH=. python bench/bench_pruners.py results/pruners-ml-100k

The study has one folder per (pruner, search seed), named PRUNER-seedS. Per model and pruner
the table gives the chosen configuration's test NDCG@10 (full ranking; mean ± sd over the
search seeds, each chosen configuration tested on its search's seed), the search's minutes and
its epochs trained (`epoch_units`, summed over trials); then the difference of the means and
whether it lies within seed noise (|difference| <= the larger of the two sds). Last, per pruner,
the epochs trained as a share of every trial run to the cap (`benchmark.tune.search.TRAINED_SHARE`,
which the cost estimate prices a search with, took its median and Hyperband values from this
line; halving's now comes from the finished leaderboards, bench/bench_trained_share.py).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark.tune.tables import existing_records


def collect(root: Path) -> dict:
    """{model: {pruner: [(test NDCG@10, search seconds, epoch units, trials x cap), ...]}}"""
    found: dict = defaultdict(lambda: defaultdict(list))
    for folder in sorted(p for p in root.iterdir() if (p / "best.json").is_file()):
        pruner = folder.name.rsplit("-seed", 1)[0]
        for model, entry in json.loads((folder / "best.json").read_text())["models"].items():
            tests = existing_records(folder, entry.get("test_runs", []))
            if not tests:
                continue
            value = float(np.mean([r.metric("full", "test", "NDCG@10") for r in tests]))
            units = entry.get("epoch_units", np.nan)
            full = entry["budget"] * entry["fixed"]["epochs"]  # every trial to the epoch cap
            found[model][pruner].append((value, entry["wall_seconds"], units, full))
    return found


def mean_sd(values: list[float]) -> str:
    sd = f" ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else ""
    return f"{np.mean(values):.4f}{sd} (n={len(values)})"


def table(found: dict, base: str, other: str) -> str:
    rows = []
    totals = {base: [0.0, 0.0, 0.0], other: [0.0, 0.0, 0.0]}
    for model, arms in sorted(found.items()):
        if base not in arms or other not in arms:
            continue
        row = [model]
        for pruner in (base, other):
            values, seconds, units, full = zip(*arms[pruner], strict=True)
            row += [mean_sd(list(values)), f"{np.mean(seconds) / 60:.1f}", f"{np.mean(units):.0f}"]
            totals[pruner][0] += float(np.sum(seconds))
            totals[pruner][1] += float(np.nansum(units))
            totals[pruner][2] += float(np.sum(full))
        a, b = ([v[0] for v in arms[p]] for p in (base, other))
        noise = max(np.std(a, ddof=1) if len(a) > 1 else 0, np.std(b, ddof=1) if len(b) > 1 else 0)
        diff = np.mean(b) - np.mean(a)
        row += [f"{diff:+.4f}", "yes" if abs(diff) <= noise else "no"]
        rows.append(row)
    headers = ["model"]
    for pruner in (base, other):
        headers += [f"{pruner} test NDCG@10", f"{pruner} search min", f"{pruner} epochs"]
    headers += [f"{other} - {base}", "within seed noise"]
    summary = ", ".join(
        f"{p}: {s / 3600:.2f} h of search, {u:.0f} epochs trained ({u / full:.2f} of every trial "
        "to the cap)"
        for p, (s, u, full) in totals.items()
    )
    return tabulate(rows, headers, tablefmt="github") + f"\n\nAll models, all seeds: {summary}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the study's out folder")
    parser.add_argument("--base", default="median")
    parser.add_argument("--other", default="hyperband")
    args = parser.parse_args()
    print(table(collect(args.root), args.base, args.other))


if __name__ == "__main__":
    main()
