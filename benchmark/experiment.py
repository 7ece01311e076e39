"""From flags and experiment files to validated run configurations.

Every configuration field becomes a flag (`add_run_options`); an experiment file (TOML) gives
the same options, flags override it (`merged`); `--param key=value` is routed to the models
that have the parameter (`route_params`); `configs_from_values` builds one checked `RunConfig`
per (data set, model, seed), with the device resolved once. Imports no torch at module level.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

from benchmark.config import FILE_SAMPLER, RunConfig, flag, option_fields
from protocols.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Model parameters common enough to have their own flag; `--emb-dim 32` = `--param emb_dim=32`.
SHORTCUTS = (
    "emb_dim",
    "hidden",
    "layers",
    "dropout",
    "lr",
    "batch_size",
    "epochs",
    "max_seconds",
    "patience",
    "loss",
    "neg_ratio",
)
# Experiment-file keys that are not configuration fields (see `load_study`).
STUDY_KEYS = (
    *("models", "seeds", "params", "plugins", "out", "force", "jobs", "executor", "tuned"),
    "alpha",  # the popularity penalty: rerank = "pop-penalty=ALPHA"
)


def resolve_device(name: str) -> str:
    """`auto` becomes a concrete device once, here; the record stores the result."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":  # no more threads than cores this process may use
        from benchmark.executors import threads_per_worker

        torch.set_num_threads(min(torch.get_num_threads(), threads_per_worker(1)))
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA device is available")
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return name


def early_options(argv: list[str] | None) -> argparse.Namespace:
    """--plugins and --config, read before the full parser exists: a plugin's models must be
    registered before `--help` lists them."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugins", default="")
    pre.add_argument("--config", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    study = load_study(known.config) if known.config else {}
    from benchmark.models import import_plugins  # the built-in models register first

    import_plugins([*as_list(study.get("plugins", [])), *as_list(known.plugins)])
    return known


def plugin_list(values: dict, early: argparse.Namespace) -> str:
    """Every plugin module named by the experiment file or the command line, comma-separated
    (what worker processes import before they build models)."""
    return ",".join(filter(None, [*as_list(values.get("plugins", [])), early.plugins]))


def add_run_options(
    parser: argparse.ArgumentParser, param_flag: str = "--param", tuned: bool = True
) -> None:
    """Every configuration field as a flag, plus the execution options. Defaults are None so
    that an experiment file's value stands unless the flag is given. `tuned=False` leaves out
    `--tuned` (the tuning command itself)."""
    for name, (_, f) in option_fields().items():
        if not f.metadata["cli"]:
            continue
        shown = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        shown = "auto" if name == "device" else shown
        parser.add_argument(
            "--" + flag(name),
            dest=name,
            default=None,
            choices=f.metadata["choices"],
            help=f"{f.metadata['help']} (default {shown})".replace("%", "%%"),
        )
    a = parser.add_argument
    a("--alpha", type=float, default=None,
      help="popularity penalty: the same as --rerank pop-penalty=ALPHA (default 0: none)")  # fmt: skip
    a("--seeds", default=None, help="comma-separated seeds, one run each (default: --seed)")
    a("--config", type=Path, default=None, help="an experiment file (TOML); flags override it")
    add_model_shortcuts(parser)
    a(param_flag, dest="param", action="append", default=[], metavar="KEY=VALUE",
      help="model parameter (repeatable); MODEL:KEY=VALUE targets one model")  # fmt: skip
    if tuned:
        a("--tuned", default=None, metavar="DIR",
          help="each model's parameters tuned in DIR by benchmark.tune (--param still wins)")  # fmt: skip
    a("--plugins", default="", help="comma-separated modules to import first (their models)")
    a(
        "--out",
        default=None,
        help="output folder; records go to OUT/runs/ (default results/default)",
    )
    a("--force", action="store_true", default=None, help="re-run even when a record exists")
    a("--jobs", type=int, default=None, help="run models in N local processes (default 1)")
    a("--executor", default=None, choices=["local", "ray"],
      help="local processes, or Ray tasks (pip install 'seqrec-bench[ray]')")  # fmt: skip
    a("--ray-address", default=None, help="Ray cluster to join (default: start a local one)")
    a("-v", "--verbose", action="store_true", help="debug logging")


def add_model_shortcuts(parser: argparse.ArgumentParser) -> None:
    from benchmark.models import list_models, model_param_fields

    group = parser.add_argument_group("model parameters (each model keeps its own default)")
    for key in SHORTCUTS:
        defaults: dict[str, list[str]] = {}
        for name in list_models():
            fields = model_param_fields(name)
            if key in fields:
                defaults.setdefault(repr(fields[key].default), []).append(name)
        shown = "; ".join(f"{', '.join(ms)}: {d}" for d, ms in defaults.items())
        group.add_argument("--" + flag(key), dest=key, default=None, help=f"defaults: {shown}")


def read_toml(path: Path, where: str) -> dict[str, Any]:
    """A TOML file's content; InputError naming `where` for a missing or malformed file."""
    try:
        return tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise InputError(f"{where}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{where}: {error}") from None


def load_study(path: Path) -> dict[str, Any]:
    """An experiment file: run options (`dataset`, `min_rating`, ...), `models`, `seeds`,
    shortcut parameters (`epochs`, ...), `[params]` for every model, `[params.MODEL]` for one."""
    study = read_toml(path, f"--config {path}")
    known = set(option_fields()) | set(SHORTCUTS) | set(STUDY_KEYS)
    unknown = sorted(set(study) - known)
    if unknown:
        raise InputError(f"--config {path}: unknown key {unknown[0]!r}")
    return study


def as_list(value: Any) -> list:
    """`"a,b"` or `["a", "b"]` or `3` -> a list."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value) if isinstance(value, list | tuple) else [value]


def merged(args: argparse.Namespace) -> dict[str, Any]:
    """The experiment file's values overridden by the flags that were given."""
    study = load_study(args.config) if args.config else {}
    values = dict(study)
    for name in [
        *option_fields(),
        *SHORTCUTS,
        "alpha",
        "out",
        "force",
        "jobs",
        "executor",
        "seeds",
        "default_seeds",
        "tuned",
    ]:
        given = getattr(args, name, None)
        if given is not None:
            values[name] = given
    if getattr(args, "seed", None) is not None and args.seeds is None:
        values["seeds"] = [args.seed]
    if getattr(args, "models", None) is not None:
        values["models"] = args.models
    # shortcut flags (`--epochs 10`) reach the models that have the parameter and no others
    values["shortcut_pairs"] = [f"{k}={values[k]}" for k in SHORTCUTS if k in values]
    values["param_pairs"] = [
        *_study_pairs(study.get("params", {})),
        *values["shortcut_pairs"],
        *args.param,
    ]  # later pairs win: the file's [params], then the flags
    return values


def _study_pairs(params: dict) -> list[str]:
    pairs = []
    for key, value in params.items():
        if isinstance(value, dict):  # [params.MODEL]
            pairs += [(key, k, v) for k, v in value.items()]
        else:
            pairs.append((None, key, value))
    return [(f"{m}:" if m else "") + f"{k}={_text(v)}" for m, k, v in pairs]


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def route_params(
    models: list[str], pairs: list[str], shortcuts: list[str] = ()
) -> dict[str, dict[str, str]]:
    """`key=value` goes to every model having that parameter, `model:key=value` to one; a pair
    no model takes is an error, but a shortcut flag (`--epochs 10` with only baselines) is not:
    it concerns the models that have the parameter, and there are none."""
    from benchmark.models import model_param_fields

    routed: dict[str, dict[str, str]] = {m: {} for m in models}
    for pair in pairs:
        target, colon, rest = pair.partition(":")
        if colon and target in routed:
            pair, takers = rest, [target]
        else:
            takers = [m for m in models if pair.partition("=")[0] in model_param_fields(m)]
        key, eq, value = pair.partition("=")
        if not eq:
            raise InputError(f"--param expects key=value, got {pair!r}")
        if not takers and pair in shortcuts:
            continue
        if not takers:
            raise InputError(f"--param {pair}: none of {', '.join(models)} has parameter {key!r}")
        for m in takers:
            routed[m][key] = value
    return routed


def configs_from_values(values: dict[str, Any]) -> list[RunConfig]:
    """One validated RunConfig per (data set, model, seed); every check before anything runs."""
    from benchmark.models import get_model_class, list_models, model_config

    wanted = as_list(values.get("models", "all"))
    names = list_models() if wanted == ["all"] else wanted
    for name in names:
        get_model_class(name)  # unknown names fail here, with the known ones listed
    routed: dict[str, dict] = route_params(
        names, values["param_pairs"], values.get("shortcut_pairs", [])
    )
    if values.get("tuned"):  # parameters chosen by benchmark.tune; explicit ones still win
        from benchmark.tune.best import with_tuned

        routed = with_tuned(routed, values["tuned"])
    models = [model_config(name, routed[name]) for name in names]
    options = {k: v for k, v in values.items() if k in option_fields() and k != "seed"}
    if values.get("alpha") is not None:
        options["alpha"] = values["alpha"]
    options["device"] = resolve_device(str(options.get("device", "auto")))
    dataset = options.pop("dataset", RunConfig().data.dataset)  # a list only from a file
    datasets = list(dataset) if isinstance(dataset, list | tuple) else [dataset]
    seeds = seed_list(values.get("seeds", [RunConfig().seed]))
    extra = {str(d): negatives_options(options, str(d)) for d in datasets}
    return [
        RunConfig(model=model)
        .replace(**options, **extra[str(dataset)], dataset=dataset, seed=seed)
        .validate()
        for dataset, model, seed in itertools.product(datasets, models, seeds)
    ]


def negatives_options(options: dict[str, Any], dataset: str) -> dict[str, Any]:
    """With --negatives-file, the options it decides: the file's width is the number of
    negatives, its content hash part of the run id. A drawn-sampler option beside it is
    refused (it would contradict the file)."""
    spec = options.get("negatives_file")
    if spec is None:
        return {}
    given = [k for k in ("num_negatives", "negative_sampler") if options.get(k) is not None]
    if given:
        raise InputError(f"--negatives-file fixes the sampled candidates; drop --{flag(given[0])}")
    from benchmark.datasets import data_root
    from benchmark.datasets.negatives import locate

    found = locate(str(spec), dataset, data_root())
    return {
        "num_negatives": found.count,
        "negative_sampler": FILE_SAMPLER,
        "negatives_sha256": found.sha256,
    }


def seed_list(value: Any, flag: str = "--seeds") -> list[int]:
    """`"0,1,2"` or `[0, 1, 2]` -> [0, 1, 2]; not integers or none at all: one-line error."""
    try:
        seeds = sorted({int(s) for s in as_list(value)})
    except (TypeError, ValueError):
        raise InputError(f"{flag} expects comma-separated integers, got {value!r}") from None
    if not seeds:
        raise InputError(f"{flag} is empty; give at least one seed")
    return seeds
