"""Where the searches in a tuning folder stand, read-only (safe while `benchmark.tune` runs).

    python -m benchmark.tune.status results/tuning/ml-1m-r4

Per model: trials finished, pruned, running and failed (failed ones never count), the best
validation value so far and its trial, the default's value, the wall time its trials ran, and,
once the searches have chosen (best.json), the seeds whose test run of the chosen configuration
has a record. Validation values only: the test tables come when the whole command finishes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import optuna
from tabulate import tabulate

from benchmark import records
from benchmark.commands import OneLineParser, guarded
from benchmark.tune import search
from benchmark.tune.best import BEST, is_chosen, tuned_params
from protocols.errors import InputError

State = search.TrialState
HEADERS = [
    "model",
    "finished",
    "pruned",
    "running",
    "failed",
    "best valid",
    "default valid",
    "wall",
    "tested seeds",
]


def status_rows(out: str | Path) -> list[list]:
    """One row per study in OUT, in the order the studies were created."""
    if not (Path(out) / search.JOURNAL).exists():
        raise InputError(f"{out}: no {search.JOURNAL}, so no search has run there")
    rows, store = [], search.storage(out)  # the journal is read once
    tested = tested_seeds(out)
    for summary in store.get_all_studies():
        study = optuna.load_study(study_name=summary.study_name, storage=store)
        trials = study.get_trials(deepcopy=False)
        counts = {state: sum(t.state == state for t in trials) for state in State}
        best, default = search.best_and_default([t for t in trials if t.state == State.COMPLETE])
        counted = [t for t in trials if t.state in (*search.COUNTED, State.RUNNING)]
        minutes = search.active_seconds(counted, time.time()) / 60
        rows.append(
            [
                summary.study_name,
                counts[State.COMPLETE],
                counts[State.PRUNED],
                counts[State.RUNNING],
                counts[State.FAIL],
                f"{best.value:.4f} (trial {best.number})" if best else "",
                f"{default.value:.4f}" if default else "",
                f"{minutes:.1f} min",
                ", ".join(map(str, tested.get(summary.study_name, []))),
            ]
        )
    return rows


def tested_seeds(out: str | Path) -> dict[str, list[int]]:
    """{model: seeds} whose test run of the chosen configuration has a record in OUT/runs/."""
    if not (Path(out) / BEST).exists():
        return {}
    tuned, seeds = tuned_params(out), {}
    for record in records.read_records(out):
        if record.model in tuned and is_chosen(record, tuned):
            seeds.setdefault(record.model, set()).add(record.seed)
    return {model: sorted(found) for model, found in seeds.items()}


@guarded
def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m benchmark.tune.status", description=__doc__)
    p.add_argument("out", help="the OUT folder of benchmark.tune")
    args = p.parse_args(argv)
    print(tabulate(status_rows(args.out), HEADERS, tablefmt="github", disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
