"""Hyper-parameter searches, one Optuna study per model kept in OUT, scored on validation only.

Every trial is an ordinary fit of `trial_config(base, params)` (its model resolved by
`benchmark.models.model_config`), scored on the validation targets alone
(`evaluate_model(..., parts=("valid",))`); its record goes to
OUT/trials/<model>-<number>.json. The study lives in OUT/study.journal (Optuna's journal file),
so an interrupted search resumes and several local processes share one study: a worker
claims a trial under a file lock only while fewer than `trials` are finished, pruned or
running, so no trial is run twice and none is lost. Workers go through the models in order and
take the next model's trials as soon as none of the current one's is left to start, so no
worker idles while another runs a model's last trial.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import fcntl
import logging
import multiprocessing
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from benchmark import records
from benchmark.commands import past
from benchmark.config import RunConfig
from benchmark.executors import model_to_bytes, ray_session, threads_per_worker
from benchmark.models import get_model_class, import_plugins, model_config, model_param_fields
from benchmark.records import RunRecord
from protocols.errors import InputError, TrainingError
from protocols.search_space import Choice, Domain, Float, Int

log = logging.getLogger(__name__)
JOURNAL = "study.journal"
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)  # trials that use up the budget
CLAIMED = COUNTED + (TrialState.RUNNING,)  # ...and those that will
# How hopeless trials stop, fed by the trainer's validation NDCG@10 after every epoch; the
# default configuration (trial 0) is never pruned: it trains to the full budget.
# median: below the median of earlier trials at the same epoch (after 3 finished trials, from
# the 3rd epoch). hyperband: successive halving over epochs in brackets (Li et al., JMLR 2018),
# rungs at 1, 3, 9, ... epochs, the best third of each rung going on. halving: one bracket of
# asynchronous successive halving (ASHA; Li et al., MLSys 2020, the scheduler RecBole and
# WarpRec run through Ray Tune), rungs at 3, 9, 27 epochs (the median's warm-up first), a trial
# going on while it is in the best third of every trial that reached its rung. The default:
# on ML-100K it chose as well as the median rule for a quarter fewer epochs (docs/tuning.md).
PRUNERS = {
    "median": {"name": "MedianPruner", "n_startup_trials": 3, "n_warmup_steps": 3},
    "hyperband": {"name": "HyperbandPruner", "min_resource": 1, "reduction_factor": 3},
    "halving": {"name": "SuccessiveHalvingPruner", "min_resource": 3, "reduction_factor": 3},
}
# The epochs a search of 10 trials trains under each pruner, as a share of every trial run to
# the epoch cap; the cost estimate prices a search with it. Halving: the mean over the three
# finished leaderboards' deep models (ML-100K 0.34, Last.fm 0.25, Beauty 0.29;
# bench/bench_trained_share.py); the others, and halving's first 0.39, from ML-100K's pruner
# comparison (gru, sasrec, bert4rec, three seeds each; bench/bench_pruners.py).
TRAINED_SHARE = {"halving": 0.29, "median": 0.53, "hyperband": 0.68}


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    settings = {k: v for k, v in PRUNERS[name].items() if k != "name"}
    if name == "hyperband":
        settings["max_resource"] = max_epochs  # its brackets span the epoch cap
    return getattr(optuna.pruners, PRUNERS[name]["name"])(**settings)


@dataclasses.dataclass(frozen=True)
class Search:
    """One model's search: `base` is its run configuration (every parameter resolved); `fixed`
    the parameters given on the command line, which the search leaves alone."""

    out: str
    base: RunConfig
    fixed: dict[str, Any]  # name -> resolved value
    space: dict[str, Domain]  # the model's space without the fixed params
    metric: str  # PROTOCOL:NAME on the validation split, maximised
    trials: int  # total per model (1 when the space is empty)
    seed: int
    timeout_minutes: float | None = None  # no trial starts once trials ran this long
    plugins: str = ""
    pruner: str = "halving"  # a key of PRUNERS (the default: docs/tuning.md#which-pruner)
    stop_at: float | None = None  # a time.time() after which no trial starts (--stop-after)

    @property
    def max_epochs(self) -> int:
        return int(dict(self.base.model.params).get("epochs", 1))


def space_of(model: str, fixed: dict[str, Any]) -> dict[str, Domain]:
    """The model's declared search space, less the parameters fixed on the command line."""
    space = get_model_class(model).search_space
    if space is None:
        raise InputError(
            f"model {model!r} declares no search space (a `search_space` class attribute "
            "beside its Params, see protocols/search_space.py); it cannot be tuned"
        )
    fields = model_param_fields(model)
    for name, domain in space.items():
        if name not in fields or not isinstance(domain, Float | Int | Choice):
            raise InputError(f"model {model!r}: search_space entry {name!r} is not a valid domain")
    return {k: v for k, v in space.items() if k not in fixed}


def trial_config(base: RunConfig, params: dict[str, Any]) -> RunConfig:
    """The run configuration of one trial: the base (fixed params included) plus `params`,
    resolved again by the model (so `changed` and the run id follow)."""
    name = base.model.name
    model = model_config(name, {**dict(base.model.params), **params})
    return dataclasses.replace(base, model=model).validate()


def test_configs(s: Search, params: dict[str, Any], seeds: list[int]) -> list[RunConfig]:
    """The test runs of a search's configuration `params`, one per seed."""
    return [trial_config(s.base.replace(seed=seed), params) for seed in seeds]


def validation_value(record: RunRecord, metric: str) -> float:
    """The objective read off a record: `metric` (PROTOCOL:NAME) on the validation split."""
    protocol, name = metric.split(":")
    value = record.metric(protocol, "valid", name)
    if value is None or not np.isfinite(value):
        raise InputError(f"{record.model}: no validation {metric} (no validation users?)")
    return float(value)


def default_params(model: str, space: dict[str, Domain]) -> dict[str, Any]:
    defaults = get_model_class(model).Params()
    return {name: getattr(defaults, name) for name in space}


def storage(out: str | Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(Path(out) / JOURNAL)))


def existing_study(out: str | Path, model: str) -> optuna.Study | None:
    """The model's study in OUT, or None; reading writes nothing."""
    if not (Path(out) / JOURNAL).exists():
        return None
    store = storage(out)
    if model not in {s.study_name for s in store.get_all_studies()}:
        return None
    return optuna.load_study(study_name=model, storage=store)


def discard_study(out: str | Path, model: str) -> None:
    """Forget the model's search in OUT: its study and its trial records (its test runs and its
    entry of best.json are the caller's, `best.forget`)."""
    if existing_study(out, model) is not None:
        optuna.delete_study(study_name=model, storage=storage(out))
    for path in sorted((Path(out) / "trials").glob(f"{model}-[0-9][0-9][0-9][0-9]*")):
        path.unlink()


def prepare_study(search: Search) -> optuna.Study:
    """Create or reopen the study (one process, before any worker): trials left running by a
    killed search are marked failed (they never count), and the default configuration is
    queued whenever it has not been evaluated, so it is the first trial of every search."""
    model = search.base.model.name
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = existing_study(search.out, model) or optuna.create_study(
        study_name=model, storage=storage(search.out), direction="maximize"
    )
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.warning("%s: trial %d was interrupted; it is run again", model, trial.number)
        study.tell(trial.number, state=TrialState.FAIL)
        forget_record(search.out, model, trial.number)
    kept = COUNTED + (TrialState.WAITING,)
    if not any(t.user_attrs.get("default") for t in study.get_trials(states=kept)):
        study.enqueue_trial(default_params(model, search.space), user_attrs={"default": True})
    return study


def sampler_seed(seed: int, done: int, worker: int) -> int:
    """A fresh stream per (seed, trials already in the study, worker): a resumed search or a
    second worker never replays the random start-up trials of another."""
    return int(np.random.SeedSequence([seed, done, worker]).generate_state(1)[0])


def open_study(search: Search, worker: int) -> optuna.Study:
    store = storage(search.out)
    done = len(store.get_all_trials(store.get_study_id_from_name(search.base.model.name)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=sampler_seed(search.seed, done, worker),
            n_startup_trials=startup_trials(search.trials),
            constant_liar=True,  # parallel workers spread out instead of sampling alike
        )
    pruner = make_pruner(search.pruner, search.max_epochs)
    return optuna.load_study(
        study_name=search.base.model.name, storage=store, sampler=sampler, pruner=pruner
    )


def startup_trials(trials: int) -> int:
    """Random trials before TPE models the results: half the budget, at most 10."""
    return max(1, min(10, trials // 2))


@contextmanager
def file_lock(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def claim(study: optuna.Study, search: Search) -> optuna.Trial | None:
    """The next trial, or None when the budget (or the time) is used up, or `stop_at` passed."""
    with file_lock(Path(search.out) / ".claim.lock"):
        live = study.get_trials(deepcopy=False, states=CLAIMED)
        return None if past(search.stop_at) or spent(live, search) else study.ask()


def spent(trials: list[optuna.trial.FrozenTrial], search: Search) -> bool:
    """Whether `trials` (counted or running) use up the search's budget of trials or time."""
    if search.timeout_minutes is not None:
        if active_seconds(trials, time.time()) >= 60 * search.timeout_minutes:
            return True
    return len(trials) >= search.trials


def searched(search: Search) -> bool:
    """Whether the search's budget is used up or claimed (not merely stopped at `stop_at`)."""
    study = existing_study(search.out, search.base.model.name)
    if study is None:
        return False
    return spent(study.get_trials(deepcopy=False, states=CLAIMED), search)


def active_seconds(trials: list[optuna.trial.FrozenTrial], now: float) -> float:
    """Wall time during which at least one of `trials` ran, summed over every invocation
    (a running trial counts up to `now`; a trial that never started, nothing)."""
    spans = [
        (
            t.datetime_start.timestamp(),
            t.datetime_complete.timestamp() if t.datetime_complete else now,
        )
        for t in trials
        if t.datetime_start is not None
    ]
    return union_length(spans)


def summed_seconds(trials: list[optuna.trial.FrozenTrial]) -> float:
    """Each finished trial's running time, summed: one worker's seconds, trials that ran side
    by side counted each (`active_seconds` counts such time once)."""
    return sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)


def union_length(spans: list[tuple[float, float]]) -> float:
    """Length of the union of the intervals [start, end]."""
    total, reach = 0.0, -np.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def best_and_default(finished: list[optuna.trial.FrozenTrial]):
    """(chosen, default) among finished trials: the highest value (the earlier trial on a tie),
    and the default configuration's trial; None where there is none."""
    best = max(finished, key=lambda t: (t.value, -t.number), default=None)
    default = next((t for t in finished if t.user_attrs.get("default")), None)
    return best, default


def run_worker(searches: list[Search], worker: int = 0) -> int:
    """Run each search's trials, in order, until none is left to start; the number run."""
    return sum(_run_model(search, worker) for search in searches)


def _run_model(search: Search, worker: int) -> int:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from benchmark.pipeline import prepare

    import_plugins(search.plugins)  # a fresh worker process knows only the built-in models
    study, ran, prepared = open_study(search, worker), 0, None
    name = search.base.model.name
    while (trial := claim(study, search)) is not None:
        if prepared is None:  # every trial shares the data side (only the model varies)
            prepared = prepare(search.base)
        try:
            value = run_trial(search, trial, prepared)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            log.info("%s trial %d pruned", name, trial.number)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            forget_record(search.out, name, trial.number)
            raise
        else:
            study.tell(trial, value)
            log.info("%s trial %d: %s %.4f", name, trial.number, search.metric, value)
        ran += 1
    return ran


def run_trial(search: Search, trial: optuna.Trial, prepared) -> float:
    """Fit one sampled configuration and score it on the validation split only."""
    from benchmark import pipeline

    params = suggest(trial, search.space)
    config = trial_config(search.base, params)
    try:
        model, fit_seconds = pipeline.fit_model(
            config, prepared, epoch_hooks=(_pruning_hook(trial),)
        )
    except TrainingError as error:  # a diverged fit is a hopeless trial: pruned, counted
        trial.set_user_attr("error", str(error))
        raise optuna.TrialPruned(str(error)) from None
    record, ranks = pipeline.evaluate_model(config, model, prepared, fit_seconds, parts=("valid",))
    value = validation_value(record, search.metric)
    trial_info = {
        "number": trial.number,
        "params": params,
        "default": bool(trial.user_attrs.get("default")),
        "metric": search.metric,
        "value": value,
    }
    record = record.replace(trial=trial_info)
    records.write_record(trial_path(search.out, config.model.name, trial.number), record, ranks)
    # The test run of this configuration on the search's seed is this very fit: kept beside
    # that run's record-to-be, it is scored there instead of being fitted again.
    blob = model_to_bytes(model, config)
    if blob is not None:
        records.write_model(
            records.model_path(records.record_path(search.out, config.run_id())), blob
        )
    return value


def forget_unchosen_models(out: str | Path) -> None:
    """Remove the trials' fitted models that no test run used (those without a record)."""
    for path in (Path(out) / "runs").glob("*.model.pt"):
        if not records.record_path(out, path.name.removesuffix(".model.pt")).exists():
            path.unlink()


def trial_path(out: str | Path, model: str, number: int) -> Path:
    return Path(out) / "trials" / f"{model}-{number:04d}.json"


def forget_record(out: str | Path, model: str, number: int) -> None:
    """Remove the record of a trial that failed after writing it (it never counts)."""
    path = trial_path(out, model, number)
    for p in (path, records.ranks_path(path)):
        p.unlink(missing_ok=True)


def suggest(trial: optuna.Trial, space: dict[str, Domain]) -> dict[str, Any]:
    params = {}
    for name, d in space.items():
        if isinstance(d, Float):
            params[name] = trial.suggest_float(name, d.lo, d.hi, log=d.log)
        elif isinstance(d, Int):
            params[name] = trial.suggest_int(name, d.lo, d.hi, log=d.log)
        else:
            params[name] = trial.suggest_categorical(name, list(d.values))
    return params


def _pruning_hook(trial: optuna.Trial):
    default = bool(trial.user_attrs.get("default"))

    def hook(model, entry: dict) -> None:  # after each epoch's validation (seqmodels.train)
        trial.report(entry["valid_NDCG@10"], step=entry["epoch"])
        if not default and trial.should_prune():
            raise optuna.TrialPruned(f"epoch {entry['epoch']}")

    return hook


def run_searches(
    searches: list[Search], jobs: int, executor: str = "local", ray_address: str | None = None
) -> int:
    """The searches' missing trials, in this process, in `jobs` local processes or in `jobs`
    Ray tasks; how many ran. Every worker shares the studies in OUT (the journal file and claim
    lock), so Ray workers must see OUT: one machine, or a shared file system."""
    if executor == "ray":
        return _ray_workers(searches, jobs, ray_address)
    if jobs == 1:
        return run_worker(searches)
    threads = threads_per_worker(jobs)
    context = multiprocessing.get_context("spawn")  # torch and fork do not mix
    with cf.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_worker_setup, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(run_worker, searches, w) for w in range(jobs)]
        return sum(future.result() for future in futures)


def _ray_workers(searches: list[Search], jobs: int, address: str | None) -> int:
    out = str(Path(searches[0].out).resolve())  # for any cwd
    searches = [dataclasses.replace(s, out=out) for s in searches]
    with ray_session(address) as ray:
        task = ray.remote(run_worker)
        return sum(ray.get([task.remote(searches, w) for w in range(jobs)]))


def _worker_setup(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")


def study_summary(s: Search) -> dict:
    """best.json's entry of one model."""
    study = existing_study(s.out, s.base.model.name)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    if not complete:
        raise InputError(
            f"{s.base.model.name}: every trial was pruned or failed; nothing to choose"
        )
    best, default = best_and_default(complete)
    return {
        "params": best.params,
        "fixed": study.user_attrs["fixed"],
        "valid": best.value,
        "best_trial": best.number,
        "default_valid": default.value if default else None,
        "trials": len(complete) + len(pruned),
        "pruned": len(pruned),
        "budget": s.trials,
        "space": study.user_attrs["space"],
        "metric": s.metric,
        "sampler": {
            "name": "TPESampler",
            "seed": s.seed,
            "n_startup_trials": startup_trials(s.trials),
        },
        "pruner": PRUNERS[s.pruner],
        # epochs trained over every counted trial: the budget in one unit for every pruner
        "epoch_units": sum(len(t.intermediate_values) for t in complete + pruned),
        "timeout_minutes": s.timeout_minutes,
        # failed and interrupted trials, whose end is unknown, are left out
        "wall_seconds": active_seconds(complete + pruned, time.time()),
        # what the estimate prices (its `search_seconds`): the work, whatever ran side by side
        "trial_seconds": summed_seconds(complete + pruned),
    }
