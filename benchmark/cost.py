"""What a run or a tuning study will cost on this machine, measured before it starts.

`benchmark.run ... --estimate` and `benchmark.tune ... --estimate` print the expected seconds of
each model and the wall time of the whole command, write them to OUT/estimate.json and run
nothing else. How each part is measured:

- a model trained in epochs is fitted for two epochs on a random sample of the training users
  (about SAMPLE_WINDOWS training windows; every item stays a candidate, so a softmax costs what
  it will) and validated on at most SAMPLE_USERS validation users; its second epoch's seconds,
  scaled by the share of windows and of validation users sampled, are one epoch on all the data.
  Epochs expected: the median run by earlier records of the same model, data and budget
  (`epochs`, `max_steps`) in OUT and the folders beside it (`epochs_from` says which), else the
  epochs the budget allows (an upper bound: early stopping usually ends sooner);
- any other model is fitted in full: its fit is the measurement;
- evaluation is timed on at most SAMPLE_USERS test users and scaled to the users it will rank.

Everything is timed at the threads each of `--jobs N` workers gets, and the units of work are
placed on N workers, longest first. The report compares OUT/estimate.json with the records' own
seconds once the command has run (`comparison`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmark import records
from benchmark.config import RunConfig
from benchmark.tune.best import read_best, search_seconds
from protocols.errors import InputError

ESTIMATE = "estimate.json"
SAMPLE_WINDOWS = 4096  # training windows of the two sampled epochs (32 batches of 128)
SAMPLE_USERS = 1000  # validation and test users timed


@dataclasses.dataclass(frozen=True)
class FitCost:
    seconds: float  # one full fit, expected
    epochs: float | None  # expected epochs (None: the model does not train in epochs)
    epochs_from: str  # where the expectation came from
    seconds_per_epoch: float | None = None


def sampled_fit_data(data, all_windows: bool, rng: np.random.Generator, total: int):
    """(FitData on a sample of the training users and validation users, the share of training
    windows kept, the share of validation users kept); `total`: the data's training windows.
    Unsampled users keep an empty row, so user indices and the item catalogue are those of the
    whole data."""
    from protocols.sequences import training_windows

    train = data.train
    users = train.n_rows
    take = min(users, max(1, math.ceil(users * SAMPLE_WINDOWS / max(total, 1))))
    chosen = np.zeros(users, dtype=bool)
    chosen[rng.choice(users, take, replace=False)] = True
    sample = train.prefixes(np.arange(users), np.where(chosen, train.lengths, 0))
    kept = len(training_windows(sample, data.seq_len, all_windows)[0])
    valid, valid_share = sampled_users(data.valid, rng)
    fit_data = dataclasses.replace(data, train=sample, valid=valid)
    return fit_data, kept / max(total, 1), valid_share


def sampled_users(eval_set, rng: np.random.Generator):
    """(The eval set on at most SAMPLE_USERS of its users, the share kept)."""
    from protocols.types import EvalSet

    n = eval_set.n_users
    rows = np.sort(rng.choice(n, min(n, SAMPLE_USERS), replace=False)) if n else np.arange(0)
    sample = EvalSet(eval_set.users[rows], eval_set.inputs.take(rows), eval_set.targets[rows])
    return sample, len(rows) / n if n else 1.0


def fit_cost(config: RunConfig, prepared, history_dirs: list[Path]):
    """(A model fitted on the sample or in full, to time evaluation with; its FitCost)."""
    from benchmark.models import create_model, get_model_class
    from benchmark.pipeline import fit_model, make_fit_data
    from protocols.sequences import training_windows
    from seqmodels.base import SequenceModel

    name, params = config.model.name, dict(config.model.params)
    if not issubclass(get_model_class(name), SequenceModel):
        model, seconds = fit_model(config, prepared)
        return model, FitCost(seconds, None, "fitted in full")
    rng = np.random.default_rng(config.seed)
    data = make_fit_data(config, prepared.data, prepared.split)
    windows = len(training_windows(data.train, data.seq_len, params["all_windows"])[0])
    sample, window_share, valid_share = sampled_fit_data(data, params["all_windows"], rng, windows)
    timed = {"epochs": 2, "patience": 2, "max_steps": 0, "max_seconds": 0.0}
    model = create_model(name, **{**params, **timed})
    model.fit(sample)
    last = model.training_["history"][-1]  # the first epoch pays for warming up
    per_epoch = last["train_seconds"] / window_share + last["valid_seconds"] / valid_share
    cap = epoch_cap(get_model_class(name).Params(**params), windows)
    if params.get("max_seconds"):  # the epochs that fit the time budget at this pace
        cap = min(cap, max(1.0, params["max_seconds"] / per_epoch))
    epochs, source = expected_epochs(config, history_dirs, cap)
    return model, FitCost(per_epoch * epochs, epochs, source, per_epoch)


def epoch_cap(params, windows: int) -> float:
    """The epochs a fit over `windows` training windows may train: `epochs`, or fewer (a
    fraction for a last epoch cut short) where `max_steps` ends it sooner."""
    from seqmodels.train import batches_per_epoch, step_budget

    if not params.max_steps:
        return float(params.epochs)
    return step_budget(params, windows) / batches_per_epoch(windows, params.batch_size)


def expected_epochs(config: RunConfig, history_dirs: list[Path], cap: float) -> tuple[float, str]:
    """Median epochs of earlier records of the same model, data and budget (`budget_of`), else
    `cap`, the epochs the budget allows."""
    name, params = config.model.name, dict(config.model.params)
    budget = budget_of(params)
    found = []
    for folder in history_dirs:
        for path in folder.glob(f"{name}-*.json"):
            try:
                r = json.loads(path.read_text())
                same = (
                    r["model"] == name
                    and r["dataset"]["sha256"] == config.data.fingerprint
                    and budget_of(r["config"]["model"]["params"]) == budget
                )
                if same and r.get("training"):
                    found.append(len(r["training"]["history"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a run record
    if not found:
        return float(cap), "the cap"
    return float(np.median(found)), f"median of {len(found)} earlier run(s)"


def budget_of(params: dict) -> tuple:
    """What decides how long a fit trains: the caps and the stopping rule. Records written
    before `max_steps`, `patience_steps` and `max_seconds` existed trained as with 0 for each."""
    keys = ("epochs", "max_steps", "patience", "patience_steps", "max_seconds")
    return tuple(params.get(key, 0) for key in keys)


def seconds_per_user(config: RunConfig, model, prepared) -> float:
    """Seconds to evaluate one user with `model`: timed on a sample of test users (both
    protocols, as a run scores them); times `users_ranked` gives a run's evaluation."""
    from benchmark.pipeline import evaluate_model

    split = prepared.split
    test, _ = sampled_users(split.test, np.random.default_rng(config.seed + 1))
    if test.n_users == 0:
        return 0.0
    # sampled candidates are indexed by user, so they stand as they are
    sample = dataclasses.replace(prepared, split=dataclasses.replace(split, test=test))
    start = time.perf_counter()
    evaluate_model(config, model, sample, 0.0, parts=("test",))
    return (time.perf_counter() - start) / test.n_users


def users_ranked(prepared, parts: tuple[str, ...] = ("valid", "test")) -> int:
    return sum(getattr(prepared.split, part).n_users for part in parts)


@contextmanager
def worker_threads(jobs: int):
    """Time at the torch threads each of `jobs` local workers gets (`executors._processes`)."""
    import torch

    from benchmark.executors import threads_per_worker

    before = torch.get_num_threads()
    if jobs > 1:
        torch.set_num_threads(threads_per_worker(jobs))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def wall_seconds(unit_seconds: list[float], jobs: int) -> float:
    """The longest worker's total when units go, longest first, to the least loaded worker."""
    workers = [0.0] * max(jobs, 1)
    for seconds in sorted(unit_seconds, reverse=True):
        workers[workers.index(min(workers))] += seconds
    return max(workers)


def history_folders(out: str | Path) -> list[Path]:
    """Where earlier records of a model may be: OUT's runs and trials, and its siblings'."""
    out = Path(out)
    found = [out / "runs", out / "trials"]
    if out.parent.is_dir():
        found += sorted(p / "runs" for p in out.parent.iterdir() if (p / "runs").is_dir())
    return list(dict.fromkeys(found))


def estimate(
    configs: list[RunConfig], out: str, force: bool, jobs: int, skip_infeasible: bool = False
) -> str:
    """The cost of the runs `executors.execute` would run, printed and recorded (run, ablate)."""
    from benchmark.executors import plan

    if jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    _, units, prepared = plan(configs, out, force, skip_infeasible)
    if not units:
        return f"nothing to run: every record exists in {out}"
    return report(estimate_units(units, prepared, out, jobs), out)


def estimate_units(units, prepared: dict, out: str, jobs: int) -> dict:
    """The estimate of `benchmark.run`: `units` as planned by `executors.plan_units`."""
    from benchmark.executors import model_from_bytes
    from benchmark.pipeline import prepared_key

    models: dict[str, dict] = {}
    unit_seconds = []
    with worker_threads(jobs):
        for unit in units:
            base = unit.configs[0].trained_by()
            ready = prepared[prepared_key(base)]
            if unit.saved_model is not None:  # scored again, not refitted
                model, fit = model_from_bytes(unit.saved_model, base), FitCost(0.0, None, "saved")
            else:
                model, fit = fit_cost(base, ready, history_folders(out))
            entry = models.setdefault(base.model.name, new_entry())
            add_fit(entry, fit, unit.saved_model is None)
            evals = [seconds_per_user(c, model, ready) * users_ranked(ready) for c in unit.configs]
            for config, seconds in zip(unit.configs, evals, strict=True):
                # the fit's seconds go where its record will put them (`executors.run_unit`)
                entry["runs"][config.run_id()] = seconds + (fit.seconds if config == base else 0.0)
            unit_seconds.append(fit.seconds + sum(evals))
    return summary(
        "run", models, unit_seconds, jobs, units[0].configs[0].device if units else "cpu"
    )


def new_entry() -> dict:
    return {"runs": {}, "fits": 0, "fit_seconds": 0.0, "epochs": None, "epochs_from": ""}


def add_fit(entry: dict, fit: FitCost, counted: bool) -> None:
    entry["fits"] += int(counted)
    entry["fit_seconds"] = max(entry["fit_seconds"], fit.seconds)  # one fit, the longest
    entry["epochs"], entry["epochs_from"] = fit.epochs, fit.epochs_from
    entry["seconds_per_epoch"] = fit.seconds_per_epoch


def summary(kind: str, models: dict, unit_seconds: list[float], jobs: int, device: str) -> dict:
    from benchmark.pipeline import device_label

    for entry in models.values():
        entry.setdefault("seconds", sum(entry["runs"].values()))
    return {
        "kind": kind,
        "command": records.invocation(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": device_label(device),
        "jobs": jobs,
        "wall_seconds": wall_seconds(unit_seconds, jobs),
        "models": models,
    }


def report(estimate: dict, out: str | Path) -> str:
    """The estimate as printed; also written to OUT/estimate.json."""
    from tabulate import tabulate

    rows = []
    for name, e in estimate["models"].items():
        epochs = "—" if e["epochs"] is None else f"{e['epochs']:.4g} ({e['epochs_from']})"
        count = e.get("trials", len(e["runs"]))
        rows.append([name, count, epochs, f"{e['fit_seconds']:.1f}", _duration(e["seconds"])])
    what = "trials" if estimate["kind"] == "tune" else "runs"
    table = tabulate(rows, ["model", what, "epochs expected", "fit s", "total"], "github")
    records.write_text(Path(out) / ESTIMATE, json.dumps(estimate, indent=1))
    return (
        f"{table}\n\nexpected wall time with --jobs {estimate['jobs']}: "
        f"{_duration(estimate['wall_seconds'])} on this machine ({estimate['device']}); "
        f"written to {Path(out) / ESTIMATE}"
    )


def comparison(out: str | Path) -> str | None:
    """Markdown: each model's estimated and actual seconds (only over runs that now have a
    record; for a study, its search time from best.json), and actual / estimate."""
    path = Path(out) / ESTIMATE
    if not path.exists():
        return None
    estimate = json.loads(path.read_text())
    searched = read_best(out)["models"]
    lines = [
        f"Estimated before the command ran (`{estimate['command']}`, {estimate['created']}, "
        f"{estimate['device']}, --jobs {estimate['jobs']}) against what its records show.",
        "",
        "| model | estimated s | actual s | actual / estimate |",
        "|---|---:|---:|---:|",
    ]
    for name, e in estimate["models"].items():
        if estimate["kind"] == "tune":
            if name not in searched:
                continue
            guess, actual = e["search_seconds"], search_seconds(searched[name])
        else:
            done = {i: s for i, s in e["runs"].items() if records.record_path(out, i).exists()}
            if not done:
                continue
            guess = sum(done.values())
            actual = sum(_record_seconds(records.record_path(out, i)) for i in done)
        ratio = f"{actual / guess:.2f}" if guess > 0 else "—"
        lines.append(f"| {name} | {guess:.1f} | {actual:.1f} | {ratio} |")
    return "\n".join(lines) + "\n" if len(lines) > 4 else None


def write_comparison(out: str | Path) -> str | None:
    text = comparison(out)
    if text is not None:
        records.write_text(Path(out) / "estimate.md", text)
    return text


def _record_seconds(path: Path) -> float:
    timings = json.loads(path.read_text())["timings"]
    return float(timings["fit_seconds"] + timings["eval_seconds"])


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
