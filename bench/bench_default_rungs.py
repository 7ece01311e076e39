"""What successive halving would save if the default configuration held its place in the rungs.

    PYTHONPATH=. python bench/bench_default_rungs.py results/leaderboard/ml-100k results/leaderboard/s3rec-lastfm results/leaderboard/s3rec-beauty

The default (trial 0) reports its validation NDCG@10 every epoch but never asks the pruner, so it
records no rung, and the first trial after it has no competitor at any rung: it always trains on.
This replays each finished search's pruning from its journal (read from a copy, never written)
with Optuna's SuccessiveHalvingPruner rule (min resource 3, reduction factor 3) over the
recorded per-epoch values, under two rules:

- `as run`: the default records nothing. The replay must give every trial its recorded fate; the
  trials it does not are counted (`replay misses`), a check of the replay itself.
- `default counts`: the default records its value at each rung it reaches, as any trial does.

A trial reaches a rung when its timeline (start to end, spread evenly over its epochs) passes
that epoch, so trials that ran side by side compete as they did. With the default counted, a
trial pruned sooner saves the epochs it trained after that rung. A trial that would pass the rung
where it was pruned has no values beyond it; it is counted (`would go on`) and stopped there, so
the epochs saved are an upper bound. The sampler's later suggestions, which would see other
pruned values, are not replayed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState
from tabulate import tabulate

MIN_RESOURCE, FACTOR = 3, 3


def promotable(value: float, competing: list[float]) -> bool:
    """Optuna's rule: among the best 1/FACTOR of the values at a rung, its own included."""
    place = max(len(competing) // FACTOR - 1, 0)
    return value >= sorted(competing, reverse=True)[place]


def replay(trials: list[FrozenTrial], default_counts: bool) -> tuple[dict[int, int], set[int]]:
    """({trial: the epoch it stops at}, the trials pruned) under one rule. A trial never pruned
    stops where it stopped as run (the epoch cap or early stopping)."""
    last = {t.number: max(t.intermediate_values) for t in trials}
    reached = []  # (when a trial reaches a rung's epoch, the trial, that epoch)
    for t in trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
        step = MIN_RESOURCE
        while step <= last[t.number]:
            reached.append(
                (t.datetime_start.timestamp() + seconds * step / last[t.number], t, step)
            )
            step *= FACTOR
    stop, pruned = dict(last), set()
    at_rung: dict[int, list[float]] = {}  # epoch: the values recorded there
    for _, t, step in sorted(reached, key=lambda r: (r[0], r[1].number)):
        if t.number in pruned:
            continue
        default = bool(t.user_attrs.get("default"))
        if default and not default_counts:
            continue
        value, competing = t.intermediate_values[step], at_rung.setdefault(step, [])
        if not default and not promotable(value, competing + [value]):
            stop[t.number] = step
            pruned.add(t.number)
        competing.append(value)
    return stop, pruned


def compare(trials: list[FrozenTrial]) -> dict:
    """One search: the epochs it trained, those the default's rungs would save, the replay's
    check, and the chosen trial with and without them."""
    as_pruned = {t.number for t in trials if t.state == TrialState.PRUNED}
    killed = {t.number for t in trials if t.state == TrialState.FAIL}
    # killed trials compete, but their epochs are not counted: a fresh trial replaced each
    last = {t.number: max(t.intermediate_values) for t in trials if t.number not in killed}
    as_run_stop, as_run_pruned = replay(trials, default_counts=False)
    stop, pruned = replay(trials, default_counts=True)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    chosen = max(complete, key=lambda t: (t.value, -t.number))
    kept = [t for t in complete if t.number not in pruned]
    chosen_after = max(kept, key=lambda t: (t.value, -t.number))
    return {
        "trials": len(trials) - len(killed),
        "killed": len(killed),
        "epochs": sum(last.values()),
        "saved": sum(last[n] - stop[n] for n in last),
        "replay misses": len(as_pruned ^ (as_run_pruned - killed))
        + sum(as_run_stop[n] != last[n] for n in as_run_pruned & as_pruned),
        "pruned": f"{len(as_pruned)} -> {len(pruned - killed)}",
        "would go on": len(as_pruned - pruned),
        "chosen": f"{chosen.number} -> {chosen_after.number}",
        "valid lost": chosen.value - chosen_after.value,
    }


def searches(folder: Path) -> dict[str, list[FrozenTrial]]:
    """{model: its trials that trained in epochs}, read from a copy of the folder's journal.
    Killed trials (failed) are kept: the rungs they recorded competed as any other trial's."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "study.journal"
        shutil.copy(folder / "study.journal", copy)
        storage = JournalStorage(JournalFileBackend(str(copy)))
        found = {}
        for summary in optuna.get_all_study_summaries(storage):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
            trials = [
                t
                for t in study.get_trials(states=states)
                if t.intermediate_values and t.datetime_complete
            ]
            if any(t.state == TrialState.COMPLETE for t in trials):  # a deep model's search
                found[summary.study_name] = trials
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    for folder in args.folders:
        rows = [{"model": m, **compare(t)} for m, t in sorted(searches(folder).items())]
        epochs, saved = sum(r["epochs"] for r in rows), sum(r["saved"] for r in rows)
        print(f"\n{folder.name}: {saved} of {epochs} epochs saved ({saved / epochs:.0%})")
        print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4f"))


if __name__ == "__main__":
    main()
