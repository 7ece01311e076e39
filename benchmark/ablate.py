"""Ablations: one parameter over a grid of values, every grid point an ordinary run.

python -m benchmark.ablate --param seq_len --models gru --dataset ml-1m --min-rating 4
python -m benchmark.ablate --param alpha --models all --seeds 0,1,2
python -m benchmark.ablate --param rerank --models gru,sasrec   (every re-ranker's own grid)
python -m benchmark.ablate --param rerank:xquad --values 0.2,0.5,0.9

Records go to OUT/runs/ (finished points are skipped, so an interrupted ablation resumes);
the table (ablation.md/.tex/.csv) and figure (ablation.png/.pdf) go to OUT, by default
results/ablations/<dataset>/<param>/. The alpha and re-ranker grids reorder the scores of
models fitted once per seed: they train nothing per value. A re-ranker grid writes the
frontier instead (`benchmark.frontier`: frontier.md/.tex/.csv, frontier_<model>.png/.pdf).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from benchmark import records
from benchmark.commands import OneLineParser, guarded, setup_logging
from benchmark.config import RunConfig
from benchmark.cost import estimate, write_comparison
from benchmark.executors import execute
from benchmark.experiment import (
    add_run_options,
    as_list,
    configs_from_values,
    early_options,
    merged,
    plugin_list,
)
from benchmark.records import RunRecord
from benchmark.report import frontier
from benchmark.report.render import Table, render
from benchmark.report.runs import full_candidates_text, sampled_text
from benchmark.report.tables import summary
from protocols.errors import InputError

log = logging.getLogger("benchmark.ablate")

GRIDS = {
    "seq_len": (10, 20, 50, 100, 200),
    "neg_ratio": (1, 2, 4, 8, 16),
    "emb_dim": (16, 32, 64, 128, 256),
    "alpha": (0, 0.05, 0.1, 0.2, 0.5, 1),
}
# The model parameter each ablation sets: the first of these fields a model's Params has
# (matrix factorisation calls its embedding size `factors`).
MODEL_FIELDS = {"emb_dim": ("emb_dim", "factors"), "neg_ratio": ("neg_ratio",)}
TABLE_COLUMNS = (
    "full:HR@10",
    "full:NDCG@10",
    "full:coverage@10",
    "full:long_tail@10",
    "full:ARP@10",
    "sampled:HR@10",
    "estimated_full:HR@10",
)
FIGURE_METRICS = ("HR@10", "NDCG@10", "coverage@10")


def is_rerank(param: str) -> bool:
    """`rerank` (every re-ranker) or `rerank:NAME` (one)."""
    return param.partition(":")[0] == "rerank"


def applies(param: str, model: str) -> bool:
    """Whether `param` changes what `model` does."""
    from benchmark.models import get_model_class

    if param == "alpha" or is_rerank(param):
        return True  # a penalty or a re-ranker on the scores: every model
    if param == "seq_len":
        return get_model_class(model).uses_seq_len
    if param == "neg_ratio":  # trained with bce: a model whose own losses exclude it is not
        if not get_model_class(model).can_train_with("bce"):
            return False
    return model_field(param, model) is not None


def model_field(param: str, model: str) -> str | None:
    from benchmark.models import model_param_fields

    fields = model_param_fields(model)
    return next((f for f in MODEL_FIELDS.get(param, ()) if f in fields), None)


def grid_configs(param: str, values: list, bases: list[RunConfig]) -> list[RunConfig]:
    """One RunConfig per (model, value, seed): the bases already hold one config per seed."""
    from benchmark.models import model_config

    configs = []
    for base in bases:
        field = model_field(param, base.model.name)
        for value in values:
            if is_rerank(param):
                config = base.replace(rerank=value)
            elif param in ("seq_len", "alpha"):
                config = base.replace(**{param: value})
            else:
                given = {k: v for k, v in base.model.params if k in base.model.changed}
                model = model_config(base.model.name, {**given, field: value})
                config = RunConfig(base.data, base.protocol, model, base.seed, base.device,
                                   base.eval_batch_size)  # fmt: skip
            configs.append(config.validate())
    return configs


def parse_values(param: str, text: str | None) -> list:
    if is_rerank(param):
        return frontier.specs(param, text)
    if param not in GRIDS:
        known = ", ".join([*sorted(GRIDS), "rerank", "rerank:NAME"])
        raise InputError(f"--param: unknown ablation {param!r}; known: {known}")
    if not text:
        return list(GRIDS[param])
    kind = float if param == "alpha" else int
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            f"--values for {param} expects comma-separated numbers: {text!r}"
        ) from None
    if not values:
        raise InputError("--values is empty")
    return values


def default_out(values: dict, ablated: str) -> Path:
    dataset = str(values.get("dataset", RunConfig().data.dataset))
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(dataset.split(":", 1)[-1]).stem)
    if dataset.startswith("synthetic"):
        name = "synthetic"
    if values.get("min_rating") is not None:
        name += f"-r{float(values['min_rating']):g}"
    return Path("results") / "ablations" / name / ablated.replace(":", "-")


def point_value(record: RunRecord, param: str):
    if param in ("seq_len", "alpha"):
        return getattr(record.config.protocol, param)
    return record.params[model_field(param, record.model)]


def summary_rows(recs: list[RunRecord], param: str, columns: tuple[str, ...], split: str = "test"):
    """[(model, value, [Summary per column])] on one split, by model then value."""
    groups: dict[tuple, list[RunRecord]] = {}
    for r in recs:
        groups.setdefault((r.model, point_value(r, param)), []).append(r)
    return [
        (model, value, [summary(runs, column, split) for column in columns])
        for (model, value), runs in sorted(groups.items())
    ]


def describe(recs: list[RunRecord], param: str) -> str:
    """`ml-1m (ratings >= 4); fixed: epochs=5 (cnn, gru)`: the data and the non-default settings."""
    first = recs[0]
    text = first.dataset["name"]
    if first.config.data.min_rating is not None:
        text += f" (ratings >= {first.config.data.min_rating:g})"
    fixed: dict[str, set[str]] = {}
    for r in recs:
        params = dict(r.config.model.params)
        for key in r.config.model.changed:
            if key != model_field(param, r.model):
                fixed.setdefault(f"{key}={params[key]}", set()).add(r.model)
    if fixed:
        text += "; fixed: " + ", ".join(f"{k} ({', '.join(sorted(m))})" for k, m in fixed.items())
    return text


def alpha_trade_off(valid_rows, test_rows, tolerance: float = 0.01):
    """Per model: the largest α whose full HR@10 on the VALIDATION split is within `tolerance`
    of α = 0 there, and the test HR@10, coverage@10 and long-tail share@10 at α = 0 and at
    that α (rows of `summary_rows` over TABLE_COLUMNS)."""
    hr, cov, tail = (
        TABLE_COLUMNS.index(f"full:{m}") for m in ("HR@10", "coverage@10", "long_tail@10")
    )
    test = {(m, v): cells for m, v, cells in test_rows}
    out = []
    for model in sorted({m for m, _, _ in valid_rows}):
        points = {v: cells for m, v, cells in valid_rows if m == model}
        if 0 not in points or points[0][hr] is None or (model, 0) not in test:
            continue
        floor = points[0][hr].mean - tolerance
        best = max(v for v, c in points.items() if c[hr] and c[hr].mean >= floor)
        base, chosen = test[(model, 0)], test[(model, best)]
        cells = (base[hr], chosen[hr], base[cov], chosen[cov], base[tail], chosen[tail])
        out.append((f"{model}: alpha={best:g}", cells))
    return out


def write_outputs(out: Path, param: str, recs: list[RunRecord]) -> str:
    """Table files and figure of the ablation; returns the Markdown table."""
    if is_rerank(param):
        return frontier.write_outputs(out, recs, describe(recs, param))
    rows = summary_rows(recs, param, TABLE_COLUMNS)
    n_seeds = len({r.seed for r in recs})
    c = recs[0].config
    caption = (
        f"Ablation of {param} on {describe(recs, param)}; {c.data.split} split, "
        f"test set; full = {full_candidates_text(c.data.repeats)}, "
        f"sampled = {sampled_text(recs[0])}, estimated_full = Krichene-Rendle "
        f"estimate from the sampled ranks (uniform negatives only); "
        + (f"mean ± sample std over {n_seeds} seeds." if n_seeds > 1 else "one seed.")
    )
    labelled = tuple((f"{model}, {param}={value:g}", tuple(cells)) for model, value, cells in rows)
    rendered = render(Table(caption, (("", TABLE_COLUMNS),), labelled, ranked=False))
    if param == "alpha":
        columns = tuple(
            f"{m} {a}" for m in ("full:HR@10", "full:coverage@10", "full:long_tail@10")
            for a in ("alpha=0", "there")
        )  # fmt: skip
        valid = summary_rows(recs, param, TABLE_COLUMNS, "valid")
        trade = render(
            Table(
                "Largest alpha whose full-ranking HR@10 on the validation split stays within "
                "0.01 (one point) of alpha = 0; test-set HR@10, coverage@10 and long-tail "
                "share@10 at alpha = 0 and at that alpha.",
                (("", columns),),
                tuple(alpha_trade_off(valid, rows)),
                ranked=False,
            )
        )
        rendered = {fmt: rendered[fmt] + "\n" + trade[fmt] for fmt in rendered}
    for fmt, text in rendered.items():
        records.write_text(out / f"ablation.{fmt}", text)
    figure(out, param, recs)
    return rendered["md"]


def figure(out: Path, param: str, recs: list[RunRecord]) -> None:
    """HR@10, NDCG@10 and coverage@10 (full ranking) against the parameter, one line per model."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'seqrec-bench[plot]'): no figure")
        return
    columns = tuple(f"full:{m}" for m in FIGURE_METRICS)
    rows = summary_rows(recs, param, columns)
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.4))
    for model in sorted({m for m, _, _ in rows}):
        points = [(v, cells) for m, v, cells in rows if m == model]
        xs = [v for v, _ in points]
        for ax, c in zip(axes, range(len(columns)), strict=True):
            ys = [cells[c].mean if cells[c] else float("nan") for _, cells in points]
            errs = [(cells[c].std or 0.0) if cells[c] else 0.0 for _, cells in points]
            ax.errorbar(xs, ys, yerr=errs, marker="o", ms=4, capsize=3, label=model)
    for ax, metric in zip(axes, FIGURE_METRICS, strict=True):
        ax.set_xlabel(param)
        ax.set_title(f"{metric} (full ranking, test)")
        ax.grid(alpha=0.3)
        if param != "alpha":
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted({v for _, v, _ in rows}))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    n_seeds = len({r.seed for r in recs})
    fig.suptitle(
        f"{param} ablation: {describe(recs, param)}"
        + (f"; mean ± std over {n_seeds} seeds" if n_seeds > 1 else ""),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    records.save_figure(fig, out / "ablation")
    plt.close(fig)


@guarded
def main(argv: list[str] | None = None) -> int:
    early = early_options(argv)
    parser = OneLineParser(
        prog="python -m benchmark.ablate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--param",
        dest="ablated",
        required=True,
        help=f"{', '.join(sorted(GRIDS))}, rerank (every re-ranker) or rerank:NAME (one)",
    )
    parser.add_argument("--values", default=None, help="comma-separated grid (default: per param)")
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated names or all (default: the models the parameter applies to)",
    )
    add_run_options(parser, param_flag="--model-param")
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print and record (OUT/estimate.json) the expected time of the grid; run nothing",
    )
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    values = merged(args)
    if args.ablated == "neg_ratio":  # negatives per positive only exist in the sampled loss
        if values.get("loss") not in (None, "bce"):
            raise InputError("neg_ratio only changes the bce loss; drop --loss or use --loss bce")
        if values.get("loss") is None:
            values["param_pairs"].append("loss=bce")
    grid = parse_values(args.ablated, args.values)
    if values.get("models", "all") == "all":
        from benchmark.models import list_models

        values["models"] = [m for m in list_models() if applies(args.ablated, m)]
    for name in as_list(values["models"]):  # before the configurations: bce refuses bert4rec
        if not applies(args.ablated, name):
            why = (
                " (it cannot train with bce, this ablation's loss)"
                if model_field(args.ablated, name)
                else ""
            )
            raise InputError(f"--param {args.ablated} does not change model {name!r}{why}")
    bases = configs_from_values(values)
    if args.ablated == "neg_ratio" and values.get("loss") is None:
        log.info("neg_ratio ablation: training with --loss bce (ce uses no sampled negatives)")
    configs = grid_configs(args.ablated, grid, bases)
    out = Path(values["out"]) if values.get("out") else default_out(values, args.ablated)
    plugins = plugin_list(values, early)
    force, jobs = bool(values.get("force", False)), int(values.get("jobs", 1))
    skip_infeasible = is_rerank(args.ablated) and not args.values  # a default grid
    if args.estimate:
        print(estimate(configs, str(out), force, jobs, skip_infeasible))
        return 0
    recs = execute(
        configs,
        str(out),
        force,
        values.get("executor", "local"),
        jobs,
        args.ray_address,
        plugins,
        skip_infeasible=skip_infeasible,
    )
    print(write_outputs(out, args.ablated, recs))
    compared = write_comparison(out)  # where the grid was estimated first
    if compared:
        print(compared)
    print(f"records in {out / 'runs'}; table and figure in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
