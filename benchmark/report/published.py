"""Published figures beside ours: `benchmark.report DIR --published`.

`published.csv` (beside this file) holds one published number a line, keyed by the pinned data
set version, the protocol (`full`: leave-one-out, every item ranked, history left out;
`sampled-99`: the target against the 99 negatives published with the data), the model as the
paper names it and the metric, with its source (paper and table, or repository and file). A
run of ours matches a row when it ran on that version as published (no rating filter or
k-core of ours, leave-one-out, one target) and, for `sampled-99`, on the published negatives.
Where several sources give a figure, the table shows their range and names every source:
it never picks one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from benchmark import records
from benchmark.records import RunRecord
from benchmark.report.render import Summary, csv_text
from benchmark.report.runs import by_label, dataset_label, read_all
from benchmark.report.tables import summary

TABLE = Path(__file__).with_name("published.csv")
# Our model -> the names papers print for it.
NAMES = {
    "pop": ("PopRec",),
    "mf-bpr": ("BPR-MF",),
    "gru": ("GRU4Rec",),
    "sasrec": ("SASRec",),
    "bert4rec": ("BERT4Rec",),
    "caser": ("Caser",),
    "duorec": ("DuoRec",),
    "cl4srec": ("CL4SRec",),
    "hstu": ("HSTU",),
    "esasrec": ("eSASRec",),
}
ALL_DATA = "counted on all data"  # how a source says its popularity saw the held-out items
HEADER = ["dataset", "model", "metric", "ours", "published", "ours / published", "sources"]


@dataclass(frozen=True)
class Figure:
    value: float
    source: str


def read_table(path: Path = TABLE) -> dict[tuple[str, str, str, str], list[Figure]]:
    """{(dataset, protocol, paper's model name, metric): figures}."""
    table: dict[tuple[str, str, str, str], list[Figure]] = defaultdict(list)
    with open(path, newline="") as stream:
        for row in csv.DictReader(stream):
            key = (row["dataset"], row["protocol"], row["model"], row["metric"])
            table[key].append(Figure(float(row["value"]), row["source"]))
    return dict(table)


def published_protocol(record: RunRecord, protocol: str) -> str | None:
    """The published protocol our `protocol` ("full" or "sampled") matches for this run, or
    None when the run is not on the version as published."""
    d, p = record.config.data, record.config.protocol
    as_published = (
        d.min_rating is None
        and d.min_user_interactions <= 1
        and d.min_item_interactions <= 1
        and d.split == "loo"
        and d.targets_per_user == 1
    )
    if not as_published:
        return None
    if protocol == "full":
        return "full"
    if protocol == "sampled" and p.negatives_file == "published":
        return f"sampled-{p.num_negatives}"
    return None


def comparison(recs: list[RunRecord], columns: tuple[str, ...], split: str = "test"):
    """(rows, sources): per model and metric with a published figure, ours (mean over seeds),
    the published range and ours over each end of it; the sources numbered in order of use."""
    table, sources, rows = read_table(), {}, []
    per_data = {}  # one data set's runs at a time: a label names a model on each
    for r in recs:
        per_data.setdefault(dataset_label(r), []).append(r)
    for label, runs in ((k, v) for d in per_data.values() for k, v in by_label(d).items()):
        first = runs[0]
        for column in columns:
            protocol, metric = column.split(":")
            theirs = published_protocol(first, protocol)
            figures = [
                f
                for name in NAMES.get(first.model, ())
                for f in table.get((first.dataset["name"], theirs, name, metric), [])
            ]
            ours = summary(runs, column, split)
            if not figures or ours is None:
                continue
            marks = [sources.setdefault(f.source, len(sources) + 1) for f in figures]
            low, high = min(f.value for f in figures), max(f.value for f in figures)
            all_data = any(ALL_DATA in f.source for f in figures)
            rows.append([first.dataset["name"], label + "†" * all_data, column, ours, low, high,
                         sorted(set(marks))])  # fmt: skip
    return rows, list(sources)


def render_comparison(recs: list[RunRecord], columns: tuple[str, ...]) -> dict[str, str]:
    """{"md": ..., "csv": ...}: the comparison with a caption naming the sources."""
    rows, sources = comparison(recs, columns)
    if not rows:
        return {
            "md": "No published figure matches these runs (published.csv covers the pinned "
            "s3rec-* versions, leave-one-out, full ranking or their published negatives).\n"
        }
    shown = [
        [data, label, column, _mean(ours), _span(low, high), _span(ours.mean / high,
         ours.mean / low), " ".join(f"[{m}]" for m in marks)]
        for data, label, column, ours, low, high, marks in rows
    ]  # fmt: skip
    notes = " ".join(f"[{i}] {source}." for i, source in enumerate(sources, start=1))
    caption = (
        "Ours beside published figures on the same data version and protocol (test set; "
        "ours: mean over seeds; published: the range over sources, never one picked). "
        + (
            "† The source counted popularity on all data, held-out items included, which a "
            "popularity counted on training data alone does not see. "
            if any("†" in r[1] for r in rows)
            else ""
        )
        + notes
    )
    body = tabulate(shown, HEADER, tablefmt="github", disable_numparse=True)
    tidy = [
        dict(zip(["dataset", "model", "metric"], row[:3], strict=True))
        | {"ours": row[3].mean, "published_low": row[4], "published_high": row[5],
           "sources": "; ".join(sources[m - 1] for m in row[6])}
        for row in rows
    ]  # fmt: skip
    header = ["dataset", "model", "metric", "ours", "published_low", "published_high", "sources"]
    return {"md": f"{caption}\n\n{body}\n", "csv": csv_text(tidy, header)}


def _mean(v: Summary) -> str:
    return f"{v.mean:.4f}" + (f" ± {v.std:.4f}" if v.std is not None else "")


def _span(low: float, high: float) -> str:
    return f"{low:.4f}" if abs(high - low) < 5e-5 else f"{low:.4f}–{high:.4f}"


def write_published(folders, columns, only=(), allow_mixed=False, to=None, order=()) -> str:
    """published.md and published.csv: ours beside the published figures (`report.published`),
    written when some run matches a published figure."""
    folders = [Path(f) for f in ([folders] if isinstance(folders, str | Path) else folders)]
    recs = read_all(folders, only, allow_mixed)
    target = Path(to) if to else folders[0]
    texts = render_comparison(recs, tuple(columns))
    if "csv" in texts:  # something matched: otherwise only the explanation is printed
        for fmt, text in texts.items():
            records.write_text(target / f"published.{fmt}", text)
    return texts["md"]
