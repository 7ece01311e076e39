"""Error analysis: full-ranking HR@10 and NDCG@10 by target popularity and by history length.

Read entirely from the records' per-user ranks (targets, history lengths and the training
popularity are saved beside each record). Each target counts on its own, as if it were the one
target of its user: HR@10 and NDCG@10 of `protocols.metrics` on [targets, 1] ranks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark import records
from benchmark.records import RunRecord
from benchmark.report.render import Summary, Table
from protocols import metrics
from protocols.errors import InputError
from protocols.popularity import popularity_bands, short_head

K = 10
N_BANDS = 5


def _per_target(runs: list[RunRecord], split: str):
    """Concatenated over the seeds' runs: (hit, ndcg, target band, head flag, history length)."""
    parts = []
    for r in runs:
        ranks = r.ranks()
        rank, targets = ranks[f"full.{split}"], ranks[f"targets.{split}"]
        pop = ranks["item_popularity"]
        lengths = np.repeat(ranks[f"history_lengths.{split}"], rank.shape[1])
        rank, targets = rank.reshape(-1, 1), targets.ravel()  # [targets, 1]: one per row
        parts.append(
            (
                metrics.hit_rate(rank, K),
                metrics.ndcg(rank, K),
                popularity_bands(pop, N_BANDS)[targets],
                short_head(pop)[targets],
                lengths,
            )
        )
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def length_edges(lengths: np.ndarray) -> np.ndarray:
    """Quintile edges of history length (distinct, so short data may get fewer bins)."""
    return np.unique(np.quantile(lengths, np.linspace(0, 1, N_BANDS + 1)).round().astype(int))


def _length_bin(lo: int, hi: int, last: bool):
    return lambda d: (d[4] >= lo) & ((d[4] <= hi) if last else (d[4] < hi))


def analyse(labelled_runs: dict[str, list[RunRecord]], split: str = "test"):
    """{"popularity": (columns, rows), "history": (columns, rows)}: rows of Summary cells."""
    data = {label: _per_target(runs, split) for label, runs in labelled_runs.items()}
    seeds = {label: len(runs) for label, runs in labelled_runs.items()}  # targets repeat per seed
    first_label = next(iter(data))
    first, first_seeds = data[first_label], seeds[first_label]
    edges = length_edges(first[4])
    pop_buckets = [("head", lambda d: d[3]), ("tail", lambda d: ~d[3])] + [
        (f"Q{b + 1}", lambda d, b=b: d[2] == b) for b in range(N_BANDS)
    ]
    len_buckets = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2  # the last bin includes its upper edge
        len_buckets.append((f"len {lo}-{hi if last else hi - 1}", _length_bin(lo, hi, last)))
    out = {}
    for name, buckets in (("popularity", pop_buckets), ("history", len_buckets)):
        counts = [int(select(first).sum()) // first_seeds for _, select in buckets]  # targets
        columns = tuple(
            f"{metric} {bucket} (n={n})"
            for metric in ("HR@10", "NDCG@10")
            for (bucket, _), n in zip(buckets, counts, strict=True)
        )
        rows = []
        for label, d in data.items():
            values = []
            for m in (0, 1):
                for _, select in buckets:
                    mask = select(d)
                    n = int(mask.sum())
                    cell = Summary(float(d[m][mask].mean()), None, n // seeds[label])
                    values.append(cell if n else None)
            rows.append((label, tuple(values)))
        out[name] = (columns, rows)
    return out


NOTES = {
    "popularity": " HR@10 and NDCG@10 (full ranking) by target popularity: head = short head "
    "(most popular items making up 20% of training interactions), tail = the rest; Q1-Q5 = items "
    "in order of popularity, each band holding 20% of training interactions.",
    "history": " HR@10 and NDCG@10 (full ranking) by the length of the user's input history "
    "(quintiles of users).",
}


def analysis_tables(labelled_runs, split: str, caption: str, dataset: str, stem: Path):
    """[(name, Table)] of one data set's runs; draws the figure at `stem` (.png, .pdf)."""
    try:
        tables = analyse(labelled_runs, split)
    except (FileNotFoundError, KeyError):
        raise InputError(
            "records without their per-user ranks (the .ranks.npz beside each record); re-run "
            "them with --force"
        ) from None
    analysis_figure(stem, tables, f"{dataset}, {split} set: full-ranking accuracy by segment")
    return [
        (name, Table(caption + NOTES[name], (("", columns),), tuple(rows), ranked=False))
        for name, (columns, rows) in tables.items()
    ]


def analysis_figure(path_stem: Path, tables: dict, title: str) -> bool:
    """HR@10 by popularity band and by history length, one line per model (PNG and PDF)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, name, start, xlabel in (
        (axes[0], "popularity", 2, "target popularity band (Q1 = short head)"),
        (axes[1], "history", 0, "user history length"),
    ):
        columns, rows = tables[name]
        n = len(columns) // 2
        names = [
            c.split(" ", 1)[1].removeprefix("len ").replace(" (n=", "\n(n=")
            for c in columns[start:n]
        ]
        for label, values in rows:
            ys = [v.mean if v else np.nan for v in values[start:n]]
            ax.plot(range(len(ys)), ys, marker="o", ms=4, label=label)
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("HR@10 (full ranking)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    records.save_figure(fig, path_stem)
    plt.close(fig)
    return True
