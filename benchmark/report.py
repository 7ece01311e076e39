"""Comparison tables generated from run records (never edited by hand).

python -m benchmark.report results/ml-1m              # table, sampled_vs_full, beyond_accuracy
python -m benchmark.report results/ml-1m --analysis   # plus accuracy by target popularity / history

Each table is written as .md, .tex (booktabs) and .csv into the folder.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark import records
from benchmark.run import OneLineParser, guarded
from benchmark.significance import TEST_NAME, compare_to
from protocols.errors import InputError

DEFAULT_COLUMNS = (
    "sampled:HR@10",
    "sampled:NDCG@10",
    "sampled:MRR",
    "full:HR@10",
    "full:NDCG@10",
    "full:MRR",
)
BEYOND_COLUMNS = ("full:coverage@10", "full:long_tail@10", "full:ARP@10", "full:Gini@10")
GAP_METRICS = ("HR@10", "NDCG@10")
SIGNIFICANCE = ("full", "NDCG@10", 0.05)  # protocol, metric and level of the significance marks
_BOLD_ON, _BOLD_OFF = "\x01", "\x02"  # markers replaced per output format


def by_label(recs: list[dict]) -> dict[str, list[dict]]:
    """Runs of one model with one set of parameters (its seeds), keyed by a readable label."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        groups[_label(r)].append(r)
    return dict(sorted(groups.items()))


def mean_std(runs: list[dict], column: str, split: str) -> tuple[float, float, int] | None:
    """(mean, std, n) over runs (seeds) of `protocol:metric`; None when no run has it."""
    protocol, metric = column.split(":")
    found = [r["metrics"].get(protocol, {}).get(split, {}).get(metric) for r in runs]
    found = [v for v in found if v is not None]
    return (float(np.mean(found)), float(np.std(found)), len(found)) if found else None


def comparison_rows(recs: list[dict], columns: tuple[str, ...], split: str):
    """One row per (model, parameters): mean over seeds, and the std where there are several."""
    return [
        (label, [mean_std(runs, col, split) for col in columns])
        for label, runs in by_label(recs).items()
    ]


def _label(record: dict) -> str:
    params = dict(record["config"].get("params") or {})
    if record["config"].get("alpha"):
        params["alpha"] = record["config"]["alpha"]
    extra = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return record["model"] + (f" ({extra})" if extra else "")


def is_baseline(record: dict) -> bool:
    """Models of the baselines package (pop, personal-topk, itemknn, mf-*)."""
    from benchmark.registry import get_model_class

    try:
        return get_model_class(record["model"]).__module__.startswith("baselines.")
    except Exception:  # a plugin model that is not importable here is not a baseline
        return False


def _group_key(record: dict) -> str:
    """Records are comparable when data, split and sampled protocol agree (seed may differ)."""
    c = record["config"]
    fields = [
        record["dataset"]["name"],
        record["dataset"]["sha256"],
        c["split"],
        c["targets_per_user"],
        c["seq_len"],
        c["num_negatives"],
        c["negative_sampler"],
    ]
    return json.dumps(fields)


def _cells(rows, fmt: str, bold: bool = True) -> list[list[str]]:
    """Formatted cells with the best value of each column wrapped in bold markers."""
    n_cols = len(rows[0][1]) if rows else 0
    best = [
        max((v[0] for _, vs in rows if (v := vs[c]) is not None), default=None)
        for c in range(n_cols)
    ]
    table = []
    for label, values in rows:
        line = [label]
        for c, v in enumerate(values):
            if v is None:
                line.append("–")
                continue
            text = fmt.format(v[0]) + (f" ± {fmt.format(v[1])}" if v[2] > 1 else "")
            is_best = bold and np.isclose(v[0], best[c])
            line.append(f"{_BOLD_ON}{text}{_BOLD_OFF}" if is_best else text)
        table.append(line)
    return table


def render(
    rows, columns: tuple[str, ...], caption: str, bold: bool = True, first: str = "model"
) -> dict[str, str]:
    """Markdown, LaTeX (booktabs) and CSV text of one comparison table."""
    headers = [first, *columns]
    cells = _cells(rows, "{:.4f}", bold)
    markdown = tabulate(cells, headers, tablefmt="github", disable_numparse=True)
    markdown = markdown.replace(_BOLD_ON, "**").replace(_BOLD_OFF, "**")
    latex = tabulate(cells, headers, tablefmt="latex_booktabs", disable_numparse=True)
    latex = latex.replace(_BOLD_ON, "\\textbf{").replace(_BOLD_OFF, "}").replace("±", "$\\pm$")
    if len(columns) > 6:  # wide tables are scaled to the text width (needs graphicx)
        latex = "\\resizebox{\\linewidth}{!}{%\n" + latex + "}"
    latex = (
        "% needs \\usepackage{booktabs} (and graphicx for wide tables)\n"
        "\\begin{table}[t]\n\\centering\n\\caption{"
        + _latex_escape(caption)
        + "}\n"
        + latex
        + "\n\\end{table}"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for line in cells:
        writer.writerow([c.replace(_BOLD_ON, "").replace(_BOLD_OFF, "") for c in line])
    return {"md": f"{caption}\n\n{markdown}\n", "tex": latex + "\n", "csv": buffer.getvalue()}


def _latex_escape(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text


def _caption(group: list[dict], split: str) -> str:
    c, d = group[0]["config"], group[0]["dataset"]
    n_seeds = len({r["config"]["seed"] for r in group})
    seeds = f"; mean ± std over {n_seeds} seeds" if n_seeds > 1 else ""
    return (
        f"{d['name']} ({d['users']} users, {d['items']} items, {d['interactions']} "
        f"interactions), {c['split']} split, {split} set; sampled: {c['num_negatives']} "
        f"{c['negative_sampler']} negatives; full: all unseen items; ties count against "
        f"the target{seeds}."
    )


def significance_marks(out_dir: Path, group: list[dict], split: str) -> tuple[dict, str]:
    """({label: "*"} for models whose per-user metric differs from the best baseline's, and
    the caption sentence); empty when the group has no baseline or no other model."""
    protocol, metric, level = SIGNIFICANCE
    labels = by_label(group)
    baselines = {k: v for k, v in labels.items() if is_baseline(v[0])}
    if not baselines or len(labels) < 2:
        return {}, ""
    mean = {
        k: np.mean([r["metrics"][protocol][split][metric] for r in v]) for k, v in baselines.items()
    }
    best = max(mean, key=mean.get)
    try:
        adjusted = compare_to(out_dir, labels, best, metric, protocol, split)
    except (FileNotFoundError, KeyError):  # records written without per-user ranks
        return {}, ""
    marks = {label: "*" for label, p in adjusted.items() if p < level}
    sentence = (
        f" * = {protocol}-ranking per-user {metric} differs from the best baseline ({best}) "
        f"at p < {level} ({TEST_NAME})."
    )
    return marks, sentence


def gap_rows(group: list[dict], split: str):
    """Per model: sampled, estimated and true full-ranking values and the two errors."""
    rows = []
    for label, runs in by_label(group).items():
        values = []
        for metric in GAP_METRICS:
            got = {
                protocol: [r["metrics"].get(protocol, {}).get(split, {}).get(metric) for r in runs]
                for protocol in ("sampled", "estimated_full", "full")
            }
            if any(None in v or not v for v in got.values()):
                values += [None] * 5
                continue
            s, e, f = (float(np.mean(got[p])) for p in ("sampled", "estimated_full", "full"))
            values += [(s, 0, 1), (e, 0, 1), (f, 0, 1), (s - f, 0, 1), (e - f, 0, 1)]
        rows.append((label, values))
    return rows


def gap_columns() -> tuple[str, ...]:
    names = ("sampled", "estimated", "full", "sampled-full", "estimated-full")
    return tuple(f"{m} {n}" for m in GAP_METRICS for n in names)


def _order_agreement(rows, columns) -> str:
    """Kendall tau between the model orders by sampled / estimated and by full HR@10."""
    from scipy.stats import kendalltau

    complete = [v for _, v in rows if v[0] is not None]
    if len(complete) < 3:
        return ""
    s, e, f = ([v[i][0] for v in complete] for i in range(3))
    return (
        f" Model order by {GAP_METRICS[0]}: Kendall tau(sampled, full) = "
        f"{kendalltau(s, f)[0]:.2f}, tau(estimated, full) = {kendalltau(e, f)[0]:.2f}."
    )


def select(recs: list[dict], conditions: list[str]) -> list[dict]:
    """Records whose config matches every `key=value` (e.g. alpha=0, seed=1, seq_len=50)."""
    for condition in conditions:
        key, eq, wanted = condition.partition("=")
        if not eq:
            raise InputError(f"--only expects key=value, got {condition!r}")
        recs = [
            r
            for r in recs
            if _matches(r["config"].get(key, r["config"]["params"].get(key)), wanted)
        ]
    return recs


def _matches(value, wanted: str) -> bool:
    try:
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return str(value) == wanted


def write_tables(
    out_dir: Path, columns: tuple[str, ...], split: str, only: tuple[str, ...] = ()
) -> str:
    """table.*, sampled_vs_full.* and beyond_accuracy.* for every comparable group of runs."""
    recs = select(records.read_records(out_dir), list(only))
    if not recs:
        raise InputError(
            f"no run records under {out_dir / 'runs'}" + (" match --only" if only else "")
        )
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        groups[_group_key(r)].append(r)
    outputs: dict[str, list[str]] = defaultdict(list)
    for group in groups.values():
        caption = _caption(group, split)
        marks, sentence = significance_marks(out_dir, group, split)
        rows = [
            (label + marks.get(label, ""), v) for label, v in comparison_rows(group, columns, split)
        ]
        tables = {"table": render(rows, columns, caption + sentence + " Best value in bold.")}
        gaps = gap_rows(group, split)
        if any(v[0] is not None for _, v in gaps):
            tables["sampled_vs_full"] = render(
                gaps,
                gap_columns(),
                f"{caption} Sampled metrics, their Krichene-Rendle estimate of the full-ranking "
                f"value, and the true full-ranking value.{_order_agreement(gaps, gap_columns())}",
                bold=False,
            )
        beyond = comparison_rows(group, BEYOND_COLUMNS, split)
        if any(v is not None for _, vs in beyond for v in vs):
            tables["beyond_accuracy"] = render(
                beyond,
                BEYOND_COLUMNS,
                f"{caption} Beyond accuracy, from the full-ranking top-10 lists: catalogue "
                "coverage, long-tail share (items outside the short head: the most popular "
                "items making up 20% of training interactions), average recommended item "
                "popularity (ARP) and Gini index of recommendation counts.",
                bold=False,
            )
        for name, rendered in tables.items():
            for fmt, text in rendered.items():
                outputs[(name, fmt)].append(text)
    for (name, fmt), texts in outputs.items():
        records.write_text(out_dir / f"{name}.{fmt}", "\n".join(texts))
    return "\n".join(
        text for (name, fmt), texts in outputs.items() if fmt == "md" for text in texts
    )


def write_analysis(out_dir: Path, split: str, only: tuple[str, ...] = ()) -> str:
    """analysis_popularity.*, analysis_history.* and analysis.png/.pdf per group of runs."""
    from benchmark.analysis import analyse, analysis_figure

    groups: dict[str, list[dict]] = defaultdict(list)
    for r in select(records.read_records(out_dir), list(only)):
        groups[_group_key(r)].append(r)
    outputs: dict[tuple, list[str]] = defaultdict(list)
    for i, group in enumerate(groups.values()):
        try:
            tables = analyse(out_dir, by_label(group), split)
        except (FileNotFoundError, KeyError):
            raise InputError(
                f"{out_dir}: records without targets in their ranks (written before schema 2); "
                "re-run them with --force"
            ) from None
        caption = _caption(group, split)
        notes = {
            "popularity": " HR@10 and NDCG@10 (full ranking) by target popularity: head = short "
            "head (most popular items making up 20% of training interactions), tail = the rest; "
            "Q1-Q5 = items in order of popularity, each band holding 20% of training interactions.",
            "history": " HR@10 and NDCG@10 (full ranking) by the length of the user's input "
            "history (quintiles of users).",
        }
        for name, (columns, rows) in tables.items():
            rendered = render(rows, columns, caption + notes[name], bold=False)
            for fmt, text in rendered.items():
                outputs[(f"analysis_{name}", fmt)].append(text)
        stem = out_dir / ("analysis" if len(groups) == 1 else f"analysis_{i + 1}")
        data = group[0]["dataset"]["name"]
        if group[0]["config"].get("min_rating") is not None:
            data += f" (ratings >= {group[0]['config']['min_rating']:g})"
        analysis_figure(stem, tables, f"{data}, {split} set: full-ranking accuracy by segment")
    for (name, fmt), texts in outputs.items():
        records.write_text(out_dir / f"{name}.{fmt}", "\n".join(texts))
    return "\n".join(
        text for (name, fmt), texts in outputs.items() if fmt == "md" for text in texts
    )


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m benchmark.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, help="a --out folder of benchmark.run")
    parser.add_argument("--split", default="test", choices=["test", "valid"])
    parser.add_argument(
        "--columns",
        default=",".join(DEFAULT_COLUMNS),
        help="protocol:metric list (default %(default)s)",
    )
    parser.add_argument(
        "--analysis",
        action="store_true",
        help="also HR@10/NDCG@10 by target popularity and by history length (tables + figure)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep runs whose config (or model parameter) matches, e.g. alpha=0 (repeatable)",
    )
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        raise InputError(f"{args.out} is not a folder")
    columns = tuple(c.strip() for c in args.columns.split(",") if c.strip())
    if any(c.count(":") != 1 for c in columns):
        raise InputError("--columns entries look like sampled:HR@10 or full:NDCG@10")
    print(write_tables(args.out, columns, args.split, tuple(args.only)))
    if args.analysis:
        print(write_analysis(args.out, args.split, tuple(args.only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
