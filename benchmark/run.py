"""Run models under one protocol and write one record per run.

python -m benchmark.run --dataset ml-100k --models pop,itemknn,mf-als --seed 0 --out results/x
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import typing
from collections.abc import Callable

import torch

from benchmark import records
from benchmark.config import RunConfig, parse_params
from benchmark.registry import (
    UnknownModelError,
    get_model_class,
    list_models,
    model_param_fields,
)
from protocols.errors import InputError, TrainingError

log = logging.getLogger("benchmark.run")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_run_options(parser: argparse.ArgumentParser, param_flag: str = "--param") -> None:
    """The RunConfig options, shared with the ablation command (which calls --param
    --model-param, since its own --param names the ablated parameter)."""
    d = RunConfig()
    a = parser.add_argument
    a(
        "--dataset",
        default=d.dataset,
        help="ml-100k, ml-1m, ml-20m, ml-25m, ml-latest-small, "
        "csv:PATH or synthetic[:n_users=..,n_items=..] (default %(default)s)",
    )
    a("--sep", default=None, help="separator of a csv: file (default ',')")
    a(
        "--columns",
        default=None,
        help="csv: columns in order (user,item,rating,timestamp) or "
        "header renames (user=UserID,item=MovieID,timestamp=ts)",
    )
    a("--min-rating", type=float, default=None, help="keep only ratings >= R (default: all)")
    a("--min-user-interactions", type=int, default=0, help="k-core threshold for users")
    a("--min-item-interactions", type=int, default=0, help="k-core threshold for items")
    a(
        "--split",
        default=d.split,
        choices=["loo", "temporal"],
        help="leave-one-out or global temporal (default %(default)s)",
    )
    a(
        "--temporal-quantile",
        type=float,
        default=d.temporal_quantile,
        help="temporal split cut-off as a quantile of timestamps (default %(default)s)",
    )
    a(
        "--targets-per-user",
        type=int,
        default=d.targets_per_user,
        help="held-out items per user in valid and in test (default %(default)s)",
    )
    a("--seq-len", type=int, default=d.seq_len, help="input sequence length (default %(default)s)")
    a(
        "--num-negatives",
        type=int,
        default=d.num_negatives,
        help="sampled protocol: negatives per user (default %(default)s)",
    )
    a(
        "--negative-sampler",
        default=d.negative_sampler,
        help="uniform or popularity (default %(default)s)",
    )
    a("--ks", default=",".join(map(str, d.ks)), help="metric cut-offs (default %(default)s)")
    a("--seed", type=int, default=d.seed, help="seed of candidates and training (default 0)")
    a(
        "--alpha",
        type=float,
        default=d.alpha,
        help="popularity penalty: rank by per-user standardised score - alpha * standardised "
        "log(1 + training popularity) (default 0: no penalty)",
    )
    a("--device", default="auto", help="auto, cpu, cuda or cuda:N (auto: cuda if present)")
    a("--eval-batch-size", type=int, default=d.eval_batch_size, help="users per scoring batch")
    add_model_shortcuts(parser)
    a(
        param_flag,
        dest="param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model parameter (repeatable); MODEL:KEY=VALUE targets one model",
    )
    a(
        "--plugins",
        default="",
        help="comma-separated modules to import first (they register their own models)",
    )
    a("--out", default="results/default", help="output folder; records go to OUT/runs/")
    a("--force", action="store_true", help="re-run even when a record with this config exists")
    a("--jobs", type=int, default=1, help="run models in N local processes (default 1)")
    a(
        "--executor",
        default="local",
        choices=["local", "ray"],
        help="local processes, or Ray tasks (pip install 'seqrec-bench[ray]')",
    )
    a("--ray-address", default=None, help="Ray cluster to join (default: start a local one)")
    a("-v", "--verbose", action="store_true", help="debug logging")


# Model parameters common enough to have their own flag; `--emb-dim 32` = `--param emb_dim=32`.
SHORTCUTS = (
    "emb_dim",
    "hidden",
    "layers",
    "dropout",
    "lr",
    "batch_size",
    "epochs",
    "patience",
    "loss",
    "neg_ratio",
)


def add_model_shortcuts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model parameters (each model keeps its own default)")
    for key in SHORTCUTS:
        defaults = {}
        for name in list_models():
            fields = model_param_fields(name)
            if key in fields:
                defaults.setdefault(repr(fields[key].default), []).append(name)
        shown = "; ".join(f"{', '.join(ms)}: {d}" for d, ms in defaults.items())
        group.add_argument(
            "--" + key.replace("_", "-"), dest=key, default=None, help=f"defaults: {shown}"
        )


def shortcut_params(args: argparse.Namespace) -> list[str]:
    return [f"{key}={getattr(args, key)}" for key in SHORTCUTS if getattr(args, key) is not None]


def resolve_device(name: str) -> str:
    """`auto` becomes a concrete device once, here; the record stores the result."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":  # no more threads than cores this process may use
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(min(torch.get_num_threads(), cores or 1))
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA device is available")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return name


def parse_ks(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(k) for k in text.split(",") if k.strip()}))
    except ValueError:
        raise InputError(f"--ks expects comma-separated integers, got {text!r}") from None


def import_plugins(spec: str) -> None:
    for module in filter(None, (m.strip() for m in spec.split(","))):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise InputError(f"--plugins: cannot import {module!r}: {error}") from None


def model_params(models: list[str], pairs: list[str]) -> dict[str, tuple]:
    """Route `key=value` to every model having that parameter, `model:key=value` to one."""
    routed: dict[str, list[str]] = {m: [] for m in models}
    for pair in pairs:
        target, colon, rest = pair.partition(":")
        if colon and target in routed:
            routed[target].append(rest)
            continue
        key = pair.partition("=")[0]
        takers = [m for m in models if key in _param_types(m)]
        if not takers:
            raise InputError(f"--param {pair}: none of {', '.join(models)} has parameter {key!r}")
        for m in takers:
            routed[m].append(pair)
    return {m: parse_params(m, routed[m], model_param_fields(m), _param_types(m)) for m in models}


def _param_types(model: str) -> dict:
    return typing.get_type_hints(get_model_class(model).Params)


def configs_from_args(args: argparse.Namespace) -> list[RunConfig]:
    """One validated RunConfig per model; every check happens before anything runs."""
    import_plugins(args.plugins)
    names = list_models() if args.models == "all" else [m.strip() for m in args.models.split(",")]
    for name in names:
        get_model_class(name)  # unknown names fail here, with the known ones listed
    params = model_params(names, shortcut_params(args) + args.param)
    if getattr(args, "tuned", None):  # parameters chosen by benchmark.tune; --param still wins
        from benchmark.tune import with_tuned

        params = with_tuned(params, args.tuned)
    base = dict(
        dataset=args.dataset,
        sep=args.sep,
        columns=args.columns,
        min_rating=args.min_rating,
        min_user_interactions=args.min_user_interactions,
        min_item_interactions=args.min_item_interactions,
        split=args.split,
        temporal_quantile=args.temporal_quantile,
        targets_per_user=args.targets_per_user,
        seq_len=args.seq_len,
        num_negatives=args.num_negatives,
        negative_sampler=args.negative_sampler,
        ks=parse_ks(args.ks),
        seed=args.seed,
        alpha=args.alpha,
        device=resolve_device(args.device),
        eval_batch_size=args.eval_batch_size,
    )
    return [RunConfig(**base, model=n, params=params[n]).validate() for n in names]


def execute(
    configs: list[RunConfig],
    out: str,
    force: bool,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    plugins: str = "",
) -> list[dict]:
    """Run each config whose record is missing (or all with force); return every record.

    Runs that differ only in α share one fitted model; a model fitted earlier (saved beside its
    record) is scored again rather than refitted, unless `force`.
    """
    from benchmark.executors import run_units
    from benchmark.pipeline import prepare  # heavy imports only when there is work

    done, todo = [], []
    for config in configs:
        path = records.record_path(out, config.run_id())
        if path.exists() and not force:
            log.info("%s: record exists (%s), skipped", config.model, path)
            done.append(records.read_record(path))
        else:
            todo.append(config)
    for config in {c.data_key(): c for c in todo}.values():
        prepare(config)  # data, split and candidates: bad input fails before any model runs
    units = plan_units(todo, out, force)
    progress = sys.stderr.isatty() and jobs == 1 and executor == "local"
    for result in run_units(units, executor, jobs, ray_address, plugins, progress):
        base = result.unit.configs[0].trained_by()
        if result.fitted_model is not None:
            base_path = records.record_path(out, base.run_id())
            records.write_model(records.model_path(base_path), result.fitted_model)
        for config, (record, ranks) in zip(result.unit.configs, result.outputs, strict=True):
            records.write_record(records.record_path(out, config.run_id()), record, ranks)
            _log_result(config, record)
            done.append(record)
    return done


def plan_units(todo: list[RunConfig], out: str, force: bool) -> list:
    """Group runs by the model they score; attach that model when it was saved earlier."""
    from benchmark.executors import Unit

    groups: dict[str, list[RunConfig]] = {}
    for config in todo:
        groups.setdefault(config.trained_by().run_id(), []).append(config)
    units = []
    for base_id, members in groups.items():
        saved = records.model_path(records.record_path(out, base_id))
        blob = saved.read_bytes() if saved.exists() and not force else None
        units.append(Unit(tuple(members), blob))
    return units


def _log_result(config: RunConfig, record: dict) -> None:
    m = record["metrics"]
    log.info(
        "%s%s: test HR@10 sampled %.4f full %.4f (fit %.1fs, eval %.1fs)",
        config.model,
        f" alpha={config.alpha:g}" if config.alpha else "",
        m["sampled"].get("test", {}).get("HR@10", float("nan")),
        m["full"]["test"].get("HR@10", float("nan")),
        record["timings"]["fit_seconds"],
        record["timings"]["eval_seconds"],
    )


def guarded(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Bad input ends with one line on stderr and exit code 2, never a traceback."""

    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except (InputError, UnknownModelError, TrainingError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1 if isinstance(error, TrainingError) else 2  # a failed run is not bad input

    return wrapper


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m benchmark.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--models",
        default="all",
        help=f"comma-separated model names, or all (registered: {', '.join(list_models())})",
    )
    add_run_options(parser)
    parser.add_argument("--tuned", default=None, help="use the parameters tuned in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    configs = configs_from_args(args)
    execute(configs, args.out, args.force, args.executor, args.jobs, args.ray_address, args.plugins)
    return 0


if __name__ == "__main__":
    sys.exit(main())
