"""How close the cost estimate comes to a finished leaderboard study, model by model.

    PYTHONPATH=. python bench/bench_study_estimate.py studies/leaderboard.toml ml-100k

Estimates the data set's study afresh, as `benchmark.tune.leaderboard ... --only NAME --estimate`
would before it began (into a temporary folder: nothing of the finished study counts as done),
and sets each model's estimated seconds beside what the finished study's records show: its
search (its trials' summed seconds, as `estimate.md` counts it) and its test runs (the fit and
evaluation seconds of the records in its runs/).
Run it on an otherwise idle machine at the threads the study had (OMP_NUM_THREADS=1 for one).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from bench.bench_study_cost import ratio, spent_seconds
from benchmark import cost
from benchmark.tune import command as tune
from benchmark.tune.best import read_best
from benchmark.tune.leaderboard import chosen, read_study, tune_argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("name", help="the data set's `name` in the study file")
    args = parser.parse_args()
    study = read_study(args.study)
    entry = chosen(study["datasets"], args.name, args.study)[0]
    finished = Path(study.get("out", "results/leaderboard")) / args.name
    actual = spent_seconds(finished, read_best(finished)["models"])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        assert tune.main([*tune_argv(study, entry, Path(tmp)), "--estimate"]) == 0
        took = time.perf_counter() - start
        estimate = json.loads((Path(tmp) / args.name / cost.ESTIMATE).read_text())
    rows, totals = [], [0.0, 0.0, 0.0, 0.0]
    for model, e in sorted(estimate["models"].items()):
        if model not in actual:
            continue
        search, tests = actual[model]
        parts = [e["search_seconds"], search, e["test_seconds"], tests]
        totals = [t + p for t, p in zip(totals, parts, strict=True)]
        rows.append([model, *(f"{p:.1f}" for p in parts[:2]), ratio(search, parts[0])])
        rows[-1] += [*(f"{p:.1f}" for p in parts[2:]), ratio(tests, parts[2])]
    rows.append(["all", *(f"{p:.1f}" for p in totals[:2]), ratio(totals[1], totals[0])])
    rows[-1] += [*(f"{p:.1f}" for p in totals[2:]), ratio(totals[3], totals[2])]
    headers = ["model", "search est. s", "actual s", "ratio", "tests est. s", "actual s", "ratio"]
    print(tabulate(rows, headers, "github"))
    within = sum(0.667 <= float(r[3]) <= 1.5 for r in rows[:-1] if r[3] != "—")
    print(
        f"\nsearches within a factor 1.5: {within} of {len(rows) - 1}; the estimate took {took:.0f} s"
    )


if __name__ == "__main__":
    main()
