"""Error analysis: full-ranking HR@10 and NDCG@10 by target popularity and by history length.

Read entirely from the records' per-user ranks (targets, history lengths and the training
popularity are saved beside each record). Each target counts on its own: HR@10 = rank < 10,
NDCG@10 = 1 / log2(rank + 2) below 10 (the usual metrics when there is one target per user).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark import records
from protocols.popularity import popularity_bands, short_head

K = 10
N_BANDS = 5


def _per_target(out_dir: Path, runs: list[dict], split: str):
    """Concatenated over the seeds' runs: (hit, ndcg, target band, head flag, history length)."""
    parts = []
    for r in runs:
        ranks = records.read_ranks(records.record_path(out_dir, r["run_id"]))
        rank, targets = ranks[f"full.{split}"], ranks[f"targets.{split}"]
        pop = ranks["item_popularity"]
        lengths = np.repeat(ranks[f"history_lengths.{split}"], rank.shape[1])
        rank, targets = rank.ravel(), targets.ravel()
        parts.append(
            (
                (rank < K).astype(float),
                np.where(rank < K, 1.0 / np.log2(rank + 2.0), 0.0),
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


def analyse(out_dir: Path, labelled_runs: dict[str, list[dict]], split: str = "test"):
    """{"popularity": (columns, rows), "history": (columns, rows)} for `report.render`."""
    data = {label: _per_target(out_dir, runs, split) for label, runs in labelled_runs.items()}
    first = next(iter(data.values()))
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
        counts = [int(select(first).sum()) for _, select in buckets]
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
                    values.append((float(d[m][mask].mean()), 0.0, 1) if mask.any() else None)
            rows.append((label, values))
        out[name] = (columns, rows)
    return out


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
            ys = [v[0] if v else np.nan for v in values[start:n]]
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
