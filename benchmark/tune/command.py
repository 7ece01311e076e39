"""Tune every model with the same budget on the validation split, then score the winners on test.

python -m benchmark.tune --dataset ml-100k --models itemknn,mf-als,gru --trials 20 --seed 0 \\
    --out results/tuning/ml-100k --epochs 20 --seeds 0,1,2

Each model's search is an Optuna study (seeded TPE sampler; a successive halving, median or
Hyperband pruner fed by the trainer's per-epoch validation) kept in OUT/study.journal; trial 1
is the model's default configuration;
`--trials N` is the total per model, so running again with the same N adds nothing and a larger N
runs only the missing trials. Trial records (validation metrics only) go to OUT/trials/; the
chosen configuration of each model, and beside it the default (shown, never used to choose), is
fitted once per seed of `--seeds` and scored on test as an ordinary run record in OUT/runs/.
OUT/best.json and OUT/tuning.md/.tex/.csv summarise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
from pathlib import Path

from benchmark import records
from benchmark.commands import STOPPED, OneLineParser, deadline_after, guarded, setup_logging
from benchmark.config import RunConfig
from benchmark.cost import report as cost_report
from benchmark.cost import write_comparison
from benchmark.executors import execute
from benchmark.experiment import (
    add_run_options,
    as_list,
    configs_from_values,
    early_options,
    merged,
    plugin_list,
    route_params,
    seed_list,
)
from benchmark.tune import search
from benchmark.tune.best import forget, read_best, write_best
from benchmark.tune.estimate import estimate_searches
from benchmark.tune.tables import write_tables
from protocols.errors import InputError
from protocols.metrics import AT_K, WHOLE_LIST
from protocols.search_space import describe

log = logging.getLogger("benchmark.tune")
MANIFEST = "tune.json"  # what the study in OUT searched: data, protocol, seed and objective
OBJECTIVE_PROTOCOLS = ("full", "sampled")


def check_metric(metric: str, ks: tuple[int, ...]) -> str:
    protocol, _, name = metric.partition(":")
    names = [f"{m}@{k}" for m in AT_K for k in ks] + list(WHOLE_LIST)
    if protocol not in OBJECTIVE_PROTOCOLS or name not in names:
        raise InputError(
            f"unknown --metric {metric!r}: use PROTOCOL:NAME with PROTOCOL in "
            f"{', '.join(OBJECTIVE_PROTOCOLS)} and NAME in {', '.join(names)}"
        )
    return metric


def manifest(base: RunConfig, metric: str) -> dict:
    """The study's identity: every field that decides a trial's number, but the model's
    (`RunConfig.to_dict`'s data and protocol options, flattened, and the seed)."""
    d = base.to_dict(identity=True)
    config = {**d["data"], **d["protocol"], "seed": d["seed"]}
    return json.loads(json.dumps({"config": config, "metric": metric}, default=str))


def check_out(out: Path, expected: dict, searches: list[search.Search], restart: set[str]) -> None:
    """Refuse (before writing anything) an OUT holding a study of another set-up; the studies
    of `restart` models are compared with nothing (they are discarded)."""
    path = out / MANIFEST
    if path.exists():
        try:
            found = json.loads(path.read_text())
            stored = found["config"]
            differ = sorted(k for k in expected["config"] if stored.get(k) != expected["config"][k])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"{path} is not a study manifest; use another --out") from None
        if found.get("metric") != expected["metric"]:
            differ.append("metric")
        if differ:
            raise InputError(
                f"{out} holds a study of a different set-up ({', '.join(differ)} differ); "
                "use another --out"
            )
    for s in searches:
        name = s.base.model.name
        if name in restart:
            continue
        study = search.existing_study(out, name)
        if study is None:
            continue
        attrs = study.user_attrs
        differ = [ATTR_NAMES[k] for k, v in study_attrs(s).items() if attrs.get(k, v) != v]
        if differ:
            raise InputError(
                f"{out}: the study of {name} was searched with another {', '.join(differ)}; "
                f"use another --out or --restart {name}"
            )


def restarted(args: argparse.Namespace, searches: list[search.Search]) -> set[str]:
    """The models of --restart, each of them one of the models searched."""
    names = set(as_list(args.restart))
    unknown = sorted(names - {s.base.model.name for s in searches})
    if unknown:
        raise InputError(f"--restart names {', '.join(unknown)}, not among the models searched")
    return names


ATTR_NAMES = {
    "fixed": "set of fixed parameters",
    "space": "search space",
    "code": "model code",
    "pruner": "pruner",
}


def study_attrs(s: search.Search) -> dict:
    """What a study must keep across resumes: fixed parameters, space, the model's code and the
    pruner."""
    fixed = json.loads(json.dumps(s.fixed, default=str))
    return {
        "fixed": fixed,
        "space": describe(s.space),
        "code": s.base.model.code,
        "pruner": s.pruner,
    }


def build_searches(args: argparse.Namespace, values: dict) -> list[search.Search]:
    """One search per model, on `values["seed"]` (the test runs' seeds are separate)."""
    if args.trials < 1:
        raise InputError(f"--trials must be >= 1, got {args.trials}")
    if int(values.get("jobs", 1)) < 1:
        raise InputError(f"--jobs must be >= 1, got {values['jobs']}")
    if args.timeout_minutes is not None and not args.timeout_minutes > 0:
        raise InputError(f"--timeout-minutes must be > 0, got {args.timeout_minutes}")
    stop_at = deadline_after(args.stop_after)  # a bad value fails before the data loads
    seed = int(values.get("seed", RunConfig().seed))
    configs = configs_from_values({**values, "seeds": [seed]})
    if len({c.data for c in configs}) > 1:
        raise InputError("benchmark.tune searches one data set per OUT; give one --dataset")
    metric = check_metric(args.metric, configs[0].protocol.ks)
    names = [c.model.name for c in configs]
    # what the command line fixed
    given = route_params(names, values["param_pairs"], values.get("shortcut_pairs", []))
    out, plugins, timeout = str(values["out"]), values["plugins"], args.timeout_minutes
    searches = []
    for config in configs:
        name = config.model.name
        resolved = dict(config.model.params)
        fixed = {k: resolved[k] for k in given[name]}
        space = search.space_of(name, fixed)
        trials = args.trials if space else 1  # nothing to search: the default, once
        searches.append(
            search.Search(
                out,
                config,
                fixed,
                space,
                metric,
                trials,
                seed,
                timeout,
                plugins,
                args.pruner,
                stop_at,
            )
        )
    return searches


def identified(searches: list[search.Search]) -> tuple[list[search.Search], dict]:
    """The searches with their data's content hash in the base configuration (a study keeps to
    one version of the data: the manifest records it, a changed file is refused), and the
    loaded data (`pipeline.with_fingerprints`), so that it is not read again."""
    from benchmark.pipeline import with_fingerprints

    bases, loaded = with_fingerprints([s.base for s in searches])
    found = [dataclasses.replace(s, base=b) for s, b in zip(searches, bases, strict=True)]
    return found, loaded


def prepare_studies(searches: list[search.Search]) -> None:
    """Create or reopen every study before any worker starts (interrupted trials failed, the
    default queued); a study records what it searches, to refuse a different one later (a
    study from before the model's code was recorded gets it on its first resume)."""
    for s in searches:
        study = search.prepare_study(s)
        for key, value in study_attrs(s).items():
            if key not in study.user_attrs:
                study.set_user_attr(key, value)


def parser() -> OneLineParser:
    from benchmark.models import list_models

    p = OneLineParser(
        prog="python -m benchmark.tune",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--models", default=None, help=f"comma-separated, or all ({', '.join(list_models())})"
    )
    add_run_options(p, tuned=False)  # --seeds: the seeds of the tuned test runs
    p.add_argument("--trials", type=int, default=20, help="trials per model, in total (default 20)")
    p.add_argument(
        "--metric",
        default="full:NDCG@10",
        help="objective on the validation split, PROTOCOL:NAME (default %(default)s)",
    )
    p.add_argument(
        "--restart",
        default="",
        help="comma-separated models whose search in OUT is discarded and run again from "
        "scratch (for a changed search space or model code); the other models' are kept",
    )
    p.add_argument(
        "--pruner",
        default=search.Search.pruner,
        choices=sorted(search.PRUNERS),
        help="how hopeless trials stop, from the validation after each epoch: one bracket of "
        "asynchronous successive halving, the median of earlier trials, or Hyperband's "
        "brackets of successive halving over epochs (default %(default)s)",
    )
    p.add_argument(
        "--default-seeds",
        default=None,
        help="comma-separated seeds of the default configuration's test runs, shown beside the "
        "chosen one's (default: --seeds); on the search's --seed it costs no fit (trial 1's "
        "model is scored)",
    )
    p.add_argument(
        "--estimate",
        action="store_true",
        help="time each model's default and configurations drawn from its space on a sample, "
        "print the expected time of the study "
        "(remaining trials and test runs) per model and with --jobs N, write OUT/estimate.json; "
        "run nothing",
    )
    p.add_argument(
        "--timeout-minutes",
        type=float,
        default=None,
        help="per model: no trial starts once its trials have run T minutes (over every call)",
    )
    p.add_argument(
        "--stop-after",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no trial or test run once this command has run MINUTES; those running "
        "finish, the command exits with code 75 and the same command resumes (not part of "
        "the budget); 0 starts nothing and only scores the kept fitted models on test",
    )
    return p


def options(args: argparse.Namespace, early: argparse.Namespace) -> dict:
    """The merged options with the tuning command's defaults (OUT results/tuning, one job)."""
    values = merged(args)
    if values.get("tuned"):  # from an experiment file: the search starts from the defaults
        raise InputError("benchmark.tune takes no `tuned` folder; it searches from the defaults")
    values.setdefault("out", "results/tuning")
    values["jobs"] = int(values.get("jobs", 1))
    values["executor"] = values.get("executor") or "local"
    values["ray_address"] = getattr(args, "ray_address", None)
    values["force"] = bool(values.get("force", False))
    values["plugins"] = plugin_list(values, early)
    if values.get("seed") is None:
        values["seed"] = RunConfig().seed
    return values


@guarded
def main(argv: list[str] | None = None) -> int:
    early = early_options(argv)  # plugins first: --help lists their models
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    values = options(args, early)
    searches, loaded = identified(build_searches(args, values))  # bad data fails here
    seeds = seed_list(values.get("seeds", [values["seed"]]))
    given = values.get("default_seeds")
    default_seeds = seeds if given is None else seed_list(given, "--default-seeds")
    out = Path(values["out"])
    restart = restarted(args, searches)
    expected = manifest(searches[0].base, searches[0].metric)  # the data's fingerprint too
    check_out(out, expected, searches, restart)
    from benchmark.executors import prepare_all

    prepared = prepare_all([searches[0].base], loaded)  # a bad protocol option fails here
    if args.estimate:
        estimate = estimate_searches(searches, prepared, seeds, default_seeds, values["jobs"])
        print(cost_report(estimate, out))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    with search.file_lock(out / ".tune.lock"):  # one tuning command per OUT at a time
        check_out(out, expected, searches, restart)  # again: another command may have begun
        if not (out / MANIFEST).exists():
            records.write_text(out / MANIFEST, json.dumps(expected, indent=2))
        discard(out, restart)
        prepare_studies(searches)
        search.run_searches(searches, values["jobs"], values["executor"], values["ray_address"])
        score_kept_models(out, searches, seeds, default_seeds, values)
        if not all(search.searched(s) for s in searches):
            return stopped(out, "trials")
        best = read_best(out)
        best["models"].update({s.base.model.name: search.study_summary(s) for s in searches})
        write_best(out, best)  # before the long test runs
        if not run_tests(out, best, searches, seeds, default_seeds, values):
            return stopped(out, "test runs")
        write_best(out, best)
        write_tables(out, best, expected)
    write_comparison(out)  # actual / estimate, where the study was estimated first
    return 0


def stopped(out: Path, what: str) -> int:
    log.warning("stopped at --stop-after with %s left; the same command resumes (%s)", what, out)
    return STOPPED


def score_kept_models(
    out: Path, searches: list, seeds: list, default_seeds: list, values: dict
) -> None:
    """Score on test now the trials' fitted models that test runs will use: each default's, and
    the chosen configuration's once its search is done. Those models are kept beside the runs
    but never committed, so a study resumed in another checkout would otherwise fit them again
    (on ML-1M, half an hour a model). Scoring only: it ignores `--stop-after`."""
    configs = []
    for s in searches:
        if search.existing_study(out, s.base.model.name) is None:
            continue
        configs += search.test_configs(s, {}, default_seeds)
        if search.searched(s):  # every worker has ended: its trials are all finished
            configs += search.test_configs(s, search.study_summary(s)["params"], seeds)
    kept = [
        c
        for c in configs
        if records.model_path(records.record_path(out, c.run_id())).exists()
        and not records.record_path(out, c.run_id()).exists()
    ]
    if kept:
        args = values["executor"], values["jobs"], values["ray_address"], values["plugins"]
        execute(list({c.run_id(): c for c in kept}.values()), str(out), False, *args)


def run_tests(
    out: Path, best: dict, searches: list, seeds: list, default_seeds: list, values: dict
) -> bool:
    """Each model's chosen configuration fitted and scored on test once per seed of `seeds`,
    its default once per seed of `default_seeds`: ordinary run records in OUT/runs/, one run where
    the two are the same, existing ones kept unless --force. On the search's seed the trial's
    own fitted model is scored, where it was kept, instead of fitting the same configuration
    again. The default's test value is reported beside, never used to choose. False where
    `--stop-after` ended it first (best.json's test entries are then left for the resumed run)."""
    planned, defaults = {}, {}
    for s in searches:
        name = s.base.model.name
        planned[name] = search.test_configs(s, best["models"][name]["params"], seeds)
        defaults[name] = search.test_configs(s, {}, default_seeds)
    groups = [*planned.values(), *defaults.values()]
    configs = list({c.run_id(): c for group in groups for c in group}.values())
    done = execute(
        configs,
        str(out),
        values["force"],
        values["executor"],
        values["jobs"],
        values["ray_address"],
        values["plugins"],
        stop_at=searches[0].stop_at,
    )
    if len(done) < len(configs):  # stopped at --stop-after: resumed by the same command
        return False
    search.forget_unchosen_models(out)
    for model, group in planned.items():
        entry = best["models"][model]
        entry["test_runs"] = [c.run_id() for c in group]
        entry["default_test_runs"] = [c.run_id() for c in defaults[model]]
        same_seed = [c.run_id() for c in group if c.seed == searches[0].seed]
        entry["refit_valid"] = refit_valid(out, model, same_seed[0], entry) if same_seed else None
    return True


def refit_valid(out: Path, model: str, run_id: str, entry: dict) -> float:
    """The validation value of the chosen configuration's test run on the search's seed: the
    trial's own model where it was kept, else refitted. A refit equals the chosen trial's value
    unless training is not deterministic (some GPU kernels): then the model scored on test is
    not bit for bit the one chosen, and a warning says so."""
    record = records.read_record(records.record_path(out, run_id))
    value = search.validation_value(record, entry["metric"])
    if not math.isclose(value, entry["valid"], rel_tol=1e-9, abs_tol=1e-12):
        log.warning(
            "%s: refitted for test, the chosen configuration scores %.6f on validation, "
            "not the trial's %.6f (training is not deterministic here)",
            model,
            value,
            entry["valid"],
        )
    return value


def discard(out: Path, models: set[str]) -> None:
    """Forget the searches of `models` in OUT, best.json's entries first."""
    forget(out, models)
    for model in sorted(models):
        log.warning("%s: its search in %s is discarded (--restart)", model, out)
        search.discard_study(out, model)
