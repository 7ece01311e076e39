"""What each leaderboard study cost against the estimate written before it began, one row a study.

    PYTHONPATH=. python bench/bench_study_cost.py results/leaderboard/ml-100k results/leaderboard/s3rec-beauty

Per folder (a `benchmark.tune` OUT), in hours of one thread's work: the searches (their trials'
summed seconds) and the test runs (the fit and evaluation seconds of the records in OUT/runs)
against what the estimate written before the study began (OUT/estimate.json; "—" where the
folder kept none) priced them at, and how many searches came within a factor 1.5 of theirs.
Reads records only; a study still running ("finished": no) shows what it has done so far: the
models searched and the test runs recorded, set against the estimate of every test run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tabulate import tabulate

from bench.bench_study_estimate import ratio
from benchmark import cost, records
from benchmark.tune.best import read_best, search_seconds

HOUR = 3600.0


def spent_seconds(folder: Path) -> dict[str, tuple[float, float]]:
    """{model: (its search's summed trial seconds, its test runs' fit and evaluation seconds)}
    over the models searched so far; the test runs are every record in OUT/runs."""
    spent = {m: [search_seconds(e), 0.0] for m, e in read_best(folder)["models"].items()}
    for r in records.read_records(folder):
        if r.model in spent:
            spent[r.model][1] += r.timings["fit_seconds"] + r.timings["eval_seconds"]
    return {m: (s, t) for m, (s, t) in spent.items()}


def study_row(folder: Path) -> list[str]:
    spent = spent_seconds(folder)
    path = folder / cost.ESTIMATE
    priced = json.loads(path.read_text())["models"] if path.exists() else {}
    guess = {m: priced.get(m, {"search_seconds": 0.0, "test_seconds": 0.0}) for m in spent}
    search = [sum(g["search_seconds"] for g in guess.values()), sum(s for s, _ in spent.values())]
    tests = [sum(g["test_seconds"] for g in guess.values()), sum(t for _, t in spent.values())]
    within = sum(
        2 / 3 <= spent[m][0] / g["search_seconds"] <= 1.5
        for m, g in guess.items()
        if g["search_seconds"] > 0
    )
    both = [search[0] + tests[0], search[1] + tests[1]]
    models = read_best(folder)["models"].values()
    finished = bool(models) and all(e.get("test_runs") for e in models)  # listed at the end
    return [
        folder.name,
        "yes" if finished else "no",
        len(spent),
        *(_hours(x) for x in search),
        ratio(search[1], search[0]),
        f"{within} of {len(spent)}" if priced else "—",
        *(_hours(x) for x in tests),
        ratio(tests[1], tests[0]),
        *(_hours(x) for x in both),
        ratio(both[1], both[0]),
    ]


def _hours(seconds: float) -> str:
    return f"{seconds / HOUR:.1f}" if seconds > 0 else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    headers = [
        "study",
        "finished",
        "models searched",
        "searches est. h",
        "actual h",
        "ratio",
        "within 1.5x",
        "test runs est. h",
        "actual h",
        "ratio",
        "all est. h",
        "actual h",
        "ratio",
    ]
    print(tabulate([study_row(f) for f in args.folders], headers, "github"))


if __name__ == "__main__":
    main()
