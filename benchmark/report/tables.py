"""Comparison tables built from run records: the main table (with significance marks), the
sampled-vs-full table and the beyond-accuracy table, one block per comparable setting; each
written as .md, .tex (booktabs) and a tidy .csv. Imports neither torch nor any model.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmark import records
from benchmark.records import RunRecord
from benchmark.report.render import Summary, Table, csv_text, render
from benchmark.report.runs import (
    by_label,
    full_candidates_text,
    grouped,
    label,
    read_all,
    sampled_text,
    setting_text,
)
from benchmark.report.significance import TEST_NAME, compare_to

DEFAULT_COLUMNS = (
    "sampled:HR@10",
    "sampled:NDCG@10",
    "sampled:MRR",
    "full:HR@10",
    "full:NDCG@10",
    "full:MRR",
)
# the front door's columns: the README's results block and the leaderboard tables
MAIN_COLUMNS = ("full:HR@10", "full:NDCG@10", "sampled:HR@10")
BEYOND_COLUMNS = ("full:coverage@10", "full:long_tail@10", "full:ARP@10", "full:Gini@10")
GAP_METRICS = ("HR@10", "NDCG@10")
SIGNIFICANCE = ("full", "NDCG@10", 0.05)  # protocol, metric and level of the significance marks
TIDY_HEADER = ["setting", "dataset", "model", "protocol", "split", "metric", "mean", "std", "n",
               "p_holm", "significant"]  # fmt: skip


def summary(runs: list[RunRecord], column: str, split: str) -> Summary | None:
    """Mean, sample std and n over runs (seeds) of `protocol:metric`; None when none has it."""
    protocol, metric = column.split(":")
    found = [r.metric(protocol, split, metric) for r in runs]
    return Summary.of([v for v in found if v is not None])


def _caption(runs: dict[str, list[RunRecord]], split: str, spread: bool = True) -> str:
    """Data sets, setting, protocols and seeds; `spread=False` for tables of pooled means."""
    first = next(iter(runs.values()))[0]
    c = first.config
    sizes = "; ".join(
        f"{name}: {rs[0].dataset['users']} users, {rs[0].dataset['items']} items, "
        f"{rs[0].dataset['interactions']} interactions"
        for name, rs in runs.items()
    )
    ns = sorted({len({r.seed for r in rs if label(r) == lab}) for rs in runs.values()
                 for lab in {label(r) for r in rs}})  # fmt: skip
    n = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]} to {ns[-1]}"
    if ns == [1]:
        seeds = "; one seed"
    elif not spread:
        seeds = f"; means over n = {n} seeds"
    else:
        per_cell = "" if len(ns) == 1 else " (n per cell in table.csv)"
        seeds = f"; mean ± sample std (ddof 1) over n = {n} seeds{per_cell}"
    return (
        f"{sizes}. {setting_text(first)}, {split} set; sampled: {sampled_text(first)}; "
        f"full: {full_candidates_text(c.data.repeats)}; ties count against the target{seeds}."
    )


def significance(runs: list[RunRecord], split: str, order) -> tuple[dict[str, float], str]:
    """({label: Holm-adjusted p-value against the best baseline}, that baseline's label; "" when
    there is none to compare with)."""
    protocol, metric, _ = SIGNIFICANCE
    labels = by_label(runs, order)
    baselines = {k: v for k, v in labels.items() if v[0].is_baseline}
    if not baselines or len(labels) < 2:
        return {}, ""
    means = {k: summary(v, f"{protocol}:{metric}", split) for k, v in baselines.items()}
    means = {k: s.mean for k, s in means.items() if s is not None}
    if not means:
        return {}, ""
    best = max(means, key=means.get)
    try:
        return compare_to(labels, best, metric, protocol, split), best
    except (FileNotFoundError, KeyError):  # records written without per-user ranks
        return {}, ""


def _significance_text(best: dict[str, str]) -> str:
    """The caption's sentence on the marks; `best`: {data set: its best baseline} ("" as the
    data set of a table with one)."""
    protocol, metric, level = SIGNIFICANCE
    named = {name: b for name, b in best.items() if b}
    if not named:
        return ""
    against = (
        f"the best baseline ({next(iter(named.values()))})"
        if list(best) == [""]
        else "its data set's best baseline ("
        + ", ".join(f"{name}: {b}" for name, b in named.items())
        + ")"
    )
    return (
        f" * = {protocol}-ranking per-user {metric} differs from {against} at p < {level} "
        f"({TEST_NAME})."
    )


def build_tables(recs: list[RunRecord], columns, split: str, order=()) -> list[tuple]:
    """[(name, Table, tidy rows or None)] for every comparable setting."""
    out = []
    for datasets in grouped(recs).values():
        caption = _caption(datasets, split)
        labels = list(by_label([r for rs in datasets.values() for r in rs], order))
        tidy, marks, best = [], {}, {}
        setting = setting_text(next(iter(datasets.values()))[0])
        cells: dict[str, list] = {lab: [] for lab in labels}
        for name, runs in datasets.items():
            p_values, best[name if len(datasets) > 1 else ""] = significance(runs, split, order)
            runs_of = by_label(runs, order)
            for lab in labels:
                values = [summary(runs_of.get(lab, []), col, split) for col in columns]
                cells[lab] += values
                p = p_values.get(lab)
                group = name if len(datasets) > 1 else ""
                if p is not None and p < SIGNIFICANCE[2]:
                    marks[(lab, group)] = "*"  # on the label, or on this data set's first cell
                for col, v in zip(columns, values, strict=True):
                    if v is not None:
                        tidy.append(_tidy(setting, name, lab, col, split, v, p))
        groups = tuple((name if len(datasets) > 1 else "", tuple(columns)) for name in datasets)
        text = (
            caption + _significance_text(best) + " Best accuracy value in bold, second underlined."
        )
        rows = tuple((lab, tuple(cells[lab])) for lab in labels)
        out.append(("table", Table(text, groups, rows, marks=marks), tidy))
        out += _extra_tables(datasets, split, order)
    return out


def _tidy(setting, dataset, lab, column, split, v: Summary, p) -> dict:
    protocol, metric = column.split(":")
    significant = (
        None if p is None or not column == ":".join(SIGNIFICANCE[:2]) else p < SIGNIFICANCE[2]
    )
    return {
        "setting": setting, "dataset": dataset, "model": lab, "protocol": protocol,
        "split": split, "metric": metric,
        "mean": v.mean, "std": v.std, "n": v.n,
        "p_holm": p if significant is not None else None, "significant": significant,
    }  # fmt: skip


def _extra_tables(datasets: dict, split: str, order) -> list[tuple]:
    """sampled_vs_full (the gap and its estimate), beyond_accuracy and cost, same column
    groups."""
    caption = _caption(datasets, split)
    gap_cols = tuple(f"{m} {n}" for m in GAP_METRICS for n in
                     ("sampled", "estimated", "full", "sampled-full", "estimated-full"))  # fmt: skip
    labels = list(by_label([r for rs in datasets.values() for r in rs], order))
    gaps = {lab: [] for lab in labels}
    beyond = {lab: [] for lab in labels}
    cost = {lab: [] for lab in labels}
    for runs in datasets.values():
        runs_of = by_label(runs, order)
        for lab in labels:
            gaps[lab] += _gap_cells(runs_of.get(lab, []), split)
            beyond[lab] += [summary(runs_of.get(lab, []), c, split) for c in BEYOND_COLUMNS]
            cost[lab] += _cost_cells(runs_of.get(lab, []))
    multi = len(datasets) > 1
    out = []
    if any(v is not None for vs in gaps.values() for v in vs):
        groups = tuple((name if multi else "", gap_cols) for name in datasets)
        text = (f"{_caption(datasets, split, spread=False)} Sampled metrics, their "
                "Krichene-Rendle estimate of the full-ranking "
                "value, and the true full-ranking value (means over seeds)."
                + _order_agreement(gaps, list(datasets)))  # fmt: skip
        rows = tuple((lab, tuple(gaps[lab])) for lab in labels)
        out.append(("sampled_vs_full", Table(text, groups, rows, ranked=False), None))
    if any(v is not None for vs in beyond.values() for v in vs):
        groups = tuple((name if multi else "", BEYOND_COLUMNS) for name in datasets)
        text = (f"{caption} Beyond accuracy, from the full-ranking top-10 lists: catalogue "
                "coverage, long-tail share (items outside the short head: the most popular items "
                "making up 20% of training interactions), average recommended item popularity "
                "(ARP) and Gini index of recommendation counts.")  # fmt: skip
        rows = tuple((lab, tuple(beyond[lab])) for lab in labels)
        out.append(("beyond_accuracy", Table(text, groups, rows, ranked=False), None))
    if any(v is not None for vs in cost.values() for v in vs):
        groups = tuple((name if multi else "", COST_COLUMNS) for name in datasets)
        text = (f"{caption} What each model cost, from its records (means over seeds): fit "
                "seconds and evaluation seconds (validation and test ranked); for models trained "
                "in epochs, the epochs run, the "
                "epoch whose weights were kept (best validation NDCG@10), and the seconds of one "
                "epoch's training and of its validation. Seconds are the machine's of each "
                "record (its `device`).")  # fmt: skip
        rows = tuple((lab, tuple(cost[lab])) for lab in labels)
        out.append(("cost", Table(text, groups, rows, ranked=False, decimals=1), None))
    return out


COST_COLUMNS = ("fit s", "eval s", "epochs", "best epoch", "train s/epoch", "valid s/epoch")


def _cost_cells(runs: list[RunRecord]) -> list[Summary | None]:
    """One Summary per COST_COLUMNS over the runs (None where no run has the figure)."""
    columns: list[list[float]] = [[] for _ in COST_COLUMNS]
    for r in runs:
        for i, key in enumerate(("fit_seconds", "eval_seconds")):
            if key in r.timings:
                columns[i].append(r.timings[key])
        history = (r.training or {}).get("history") or []
        if history:
            columns[2].append(len(history))
            columns[3].append(r.training["best_epoch"])
            columns[4].append(float(np.mean([h["train_seconds"] for h in history])))
            columns[5].append(float(np.mean([h["valid_seconds"] for h in history])))
    return [Summary.of(values) for values in columns]


def _order_agreement(gaps: dict[str, list], names: list[str]) -> str:
    """Kendall tau between the model orders by sampled / estimated and by full HR@10."""
    from scipy.stats import kendalltau

    per = len(GAP_METRICS) * 5
    found = []
    for i, name in enumerate(names):
        rows = [cells[i * per : i * per + 3] for cells in gaps.values()]
        rows = [r for r in rows if None not in r]
        if len(rows) >= 3:
            s, e, f = ([r[j].mean for r in rows] for j in range(3))
            found.append(
                f" {name + ': ' if len(names) > 1 else ''}model order by {GAP_METRICS[0]}: "
                f"Kendall tau(sampled, full) = {kendalltau(s, f)[0]:.2f}, "
                f"tau(estimated, full) = {kendalltau(e, f)[0]:.2f}."
            )
    return "".join(found)


def _gap_cells(runs: list[RunRecord], split: str) -> list[Summary | None]:
    cells: list[Summary | None] = []
    for metric in GAP_METRICS:
        s, e, f = (
            summary(runs, f"{p}:{metric}", split) for p in ("sampled", "estimated_full", "full")
        )
        if None in (s, e, f):
            cells += [None] * 5
            continue
        cells += [Summary(x, None, n) for x, n in ((s.mean, s.n), (e.mean, e.n), (f.mean, f.n))]
        cells += [Summary(s.mean - f.mean, None, s.n), Summary(e.mean - f.mean, None, e.n)]
    return cells


def write_tables(
    folders, columns, split: str, only=(), allow_mixed=False, to=None, order=()
) -> str:
    """table.*, sampled_vs_full.* and beyond_accuracy.* (one block per comparable setting)."""
    folders = [Path(f) for f in ([folders] if isinstance(folders, str | Path) else folders)]
    recs = read_all(folders, only, allow_mixed)
    outputs: dict[tuple[str, str], list[str]] = defaultdict(list)
    tidy: list[dict] = []
    for name, table, rows in build_tables(recs, tuple(columns), split, order):
        rendered = render(table)
        if rows is not None:
            tidy += rows
            rendered["csv"] = None
        for fmt, text in rendered.items():
            if text is not None:
                outputs[(name, fmt)].append(text)
    target = Path(to) if to else folders[0]
    for (name, fmt), texts in outputs.items():
        records.write_text(target / f"{name}.{fmt}", "\n".join(texts))
    records.write_text(target / "table.csv", csv_text(tidy, TIDY_HEADER))
    return "\n".join(t for (name, fmt), texts in outputs.items() if fmt == "md" for t in texts)


def write_analysis(folders, split: str, only=(), allow_mixed=False, to=None, order=()) -> str:
    """analysis_popularity.*, analysis_history.* and analysis.png/.pdf per data set and setting."""
    from benchmark.report.analysis import analysis_tables

    folders = [Path(f) for f in ([folders] if isinstance(folders, str | Path) else folders)]
    recs = read_all(folders, only, allow_mixed)
    target = Path(to) if to else folders[0]
    outputs: dict[tuple, list[str]] = defaultdict(list)
    groups = [(name, runs) for d in grouped(recs).values() for name, runs in d.items()]
    for i, (name, runs) in enumerate(groups):
        stem = target / ("analysis" if len(groups) == 1 else f"analysis_{i + 1}")
        caption = _caption({name: runs}, split, spread=False)
        for table_name, table in analysis_tables(by_label(runs, order), split, caption, name, stem):
            for fmt, text in render(table).items():
                outputs[(f"analysis_{table_name}", fmt)].append(text)
    for (name, fmt), texts in outputs.items():
        records.write_text(target / f"{name}.{fmt}", "\n".join(texts))
    return "\n".join(t for (name, fmt), texts in outputs.items() if fmt == "md" for t in texts)
