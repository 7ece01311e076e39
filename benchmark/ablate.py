"""Ablations: one parameter over a grid of values, every grid point an ordinary run.

python -m benchmark.ablate --param seq_len --models gru --dataset ml-1m --min-rating 4
python -m benchmark.ablate --param alpha --models all --seeds 0,1,2

Records go to OUT/runs/ (finished points are skipped, so an interrupted ablation resumes);
the table (ablation.md/.tex/.csv) and figure (ablation.png/.pdf) go to OUT, by default
results/ablations/<dataset>/<param>/. The alpha grid re-ranks the scores of models fitted
once per seed: it trains nothing per value.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import sys
from pathlib import Path

from benchmark import records
from benchmark.config import RunConfig
from benchmark.registry import get_model_class, list_models, model_param_fields
from benchmark.report import mean_std, render
from benchmark.run import OneLineParser, add_run_options, configs_from_args, execute, guarded
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


def applies(param: str, model: str) -> bool:
    """Whether `param` changes what `model` does."""
    if param == "alpha":
        return True  # a penalty on the scores: every model
    if param == "seq_len":
        from seqmodels.base import SequenceModel

        return issubclass(get_model_class(model), SequenceModel)
    return model_field(param, model) is not None


def model_field(param: str, model: str) -> str | None:
    fields = model_param_fields(model)
    return next((f for f in MODEL_FIELDS.get(param, ()) if f in fields), None)


def grid_configs(param: str, values: list, bases: list[RunConfig], seeds: list[int]):
    """One RunConfig per (model, value, seed)."""
    configs = []
    for base in bases:
        field = model_field(param, base.model)
        for value in values:
            for seed in seeds:
                if param in ("seq_len", "alpha"):
                    config = dataclasses.replace(base, **{param: value}, seed=seed)
                else:
                    params = {**dict(base.params), field: value}
                    config = dataclasses.replace(
                        base, params=tuple(sorted(params.items())), seed=seed
                    )
                configs.append(config.validate())
    return configs


def parse_values(param: str, text: str | None) -> list:
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


def parse_seeds(text: str | None, default: int) -> list[int]:
    if not text:
        return [default]
    try:
        return sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise InputError(f"--seeds expects comma-separated integers, got {text!r}") from None


def default_out(args: argparse.Namespace) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(args.dataset.split(":", 1)[-1]).stem)
    if args.dataset.startswith("synthetic"):
        name = "synthetic"
    if args.min_rating is not None:
        name += f"-r{args.min_rating:g}"
    return Path("results") / "ablations" / name / args.ablated


def point_value(record: dict, param: str):
    if param in ("seq_len", "alpha"):
        return record["config"][param]
    field = model_field(param, record["model"])
    return record["params"][field]


def summary_rows(recs: list[dict], param: str, columns: tuple[str, ...]):
    """[(model, value, [(mean, std, n) per column])] on the test set, by model then value."""
    groups: dict[tuple, list[dict]] = {}
    for r in recs:
        groups.setdefault((r["model"], point_value(r, param)), []).append(r)
    return [
        (model, value, [mean_std(runs, column, "test") for column in columns])
        for (model, value), runs in sorted(groups.items())
    ]


def describe(recs: list[dict], param: str) -> str:
    """`ml-1m (ratings >= 4); fixed: epochs=5 (cnn, gru)`: the data and the non-default settings."""
    first = recs[0]
    text = first["dataset"]["name"]
    if first["config"].get("min_rating") is not None:
        text += f" (ratings >= {first['config']['min_rating']:g})"
    fixed: dict[str, set[str]] = {}
    for r in recs:
        for key, value in (r["config"].get("params") or {}).items():
            if key != model_field(param, r["model"]):
                fixed.setdefault(f"{key}={value}", set()).add(r["model"])
    if fixed:
        text += "; fixed: " + ", ".join(f"{k} ({', '.join(sorted(m))})" for k, m in fixed.items())
    return text


def alpha_trade_off(rows, tolerance: float = 0.01):
    """Per model: the largest α whose full HR@10 is within `tolerance` of α = 0, and what
    coverage@10 and long-tail share@10 it reaches there (rows from TABLE_COLUMNS)."""
    hr, cov, tail = (
        TABLE_COLUMNS.index(f"full:{m}") for m in ("HR@10", "coverage@10", "long_tail@10")
    )
    out = []
    for model in sorted({m for m, _, _ in rows}):
        points = {v: cells for m, v, cells in rows if m == model}
        if 0 not in points or points[0][hr] is None:
            continue
        base = points[0]
        kept = [v for v, c in points.items() if c[hr] and c[hr][0] >= base[hr][0] - tolerance]
        best = max(kept)
        chosen = points[best]
        out.append(
            (
                f"{model}: alpha={best:g}",
                [base[hr], chosen[hr], base[cov], chosen[cov], base[tail], chosen[tail]],
            )
        )
    return out


def write_outputs(out: Path, param: str, recs: list[dict]) -> str:
    """Table files and figure of the ablation; returns the Markdown table."""
    rows = summary_rows(recs, param, TABLE_COLUMNS)
    n_seeds = len({r["config"]["seed"] for r in recs})
    first = recs[0]
    caption = (
        f"Ablation of {param} on {describe(recs, param)}; {first['config']['split']} split, "
        f"test set; full = all unseen items, sampled = {first['config']['num_negatives']} "
        f"{first['config']['negative_sampler']} negatives, estimated_full = Krichene-Rendle "
        f"estimate from the sampled ranks; "
        + (f"mean ± std over {n_seeds} seeds." if n_seeds > 1 else "one seed.")
    )
    labelled = [(f"{model}, {param}={value:g}", cells) for model, value, cells in rows]
    rendered = render(labelled, TABLE_COLUMNS, caption, bold=False)
    if param == "alpha":
        columns = tuple(
            f"{m} {a}" for m in ("full:HR@10", "full:coverage@10", "full:long_tail@10")
            for a in ("alpha=0", "there")
        )  # fmt: skip
        trade = render(
            alpha_trade_off(rows),
            columns,
            "Largest alpha whose full-ranking HR@10 stays within 0.01 (one point) of alpha = 0, "
            "and the coverage@10 and long-tail share@10 it reaches.",
            bold=False,
        )
        rendered = {fmt: rendered[fmt] + "\n" + trade[fmt] for fmt in rendered}
    for fmt, text in rendered.items():
        records.write_text(out / f"ablation.{fmt}", text)
    figure(out, param, recs)
    return rendered["md"]


def figure(out: Path, param: str, recs: list[dict]) -> None:
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
            ys = [cells[c][0] if cells[c] else float("nan") for _, cells in points]
            errs = [cells[c][1] if cells[c] else 0.0 for _, cells in points]
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
    n_seeds = len({r["config"]["seed"] for r in recs})
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
    parser = OneLineParser(
        prog="python -m benchmark.ablate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--param", dest="ablated", required=True, choices=sorted(GRIDS))
    parser.add_argument("--values", default=None, help="comma-separated grid (default: per param)")
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated names or all (default: the models the parameter applies to)",
    )
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: --seed)")
    add_run_options(parser, param_flag="--model-param")
    parser.set_defaults(out=None)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.ablated == "neg_ratio":  # negatives per positive only exist in the sampled loss
        if args.loss not in (None, "bce"):
            raise InputError("neg_ratio only changes the bce loss; drop --loss or use --loss bce")
        if args.loss is None:
            log.info("neg_ratio ablation: training with --loss bce (ce uses no sampled negatives)")
            args.loss = "bce"
    values = parse_values(args.ablated, args.values)
    seeds = parse_seeds(args.seeds, args.seed)
    if args.models in (None, "all"):
        args.models = ",".join(m for m in list_models() if applies(args.ablated, m))
    bases = configs_from_args(args)
    for base in bases:
        if not applies(args.ablated, base.model):
            raise InputError(f"--param {args.ablated} does not change model {base.model!r}")
    configs = grid_configs(args.ablated, values, bases, seeds)
    out = Path(args.out) if args.out else default_out(args)
    recs = execute(
        configs, str(out), args.force, args.executor, args.jobs, args.ray_address, args.plugins
    )
    print(write_outputs(out, args.ablated, recs))
    print(f"records in {out / 'runs'}; table and figure in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
