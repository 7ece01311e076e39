"""The accuracy-exposure frontier: re-rankers over one fitted model, each over a strength grid
(`python -m benchmark.ablate --param rerank` or `--param rerank:NAME --values ...`).

Every grid point is an ordinary run whose re-ranker reorders the scores of the model fitted
once per seed. Written to OUT: `frontier.md/.tex/.csv` (per model, accuracy against coverage,
long-tail share, ARP, Gini and the share of slots taken by the 1% and 10% most recommended
items, Pareto-efficient points marked, and apart the coverage of the top 10 within each
user's sampled candidates, the count a sampled protocol invites; the strength each re-ranker may take at 1% and 5%
validation-NDCG@10 loss, reported on test; who pays: accuracy by the users' taste for popular
items) and one figure per model (`frontier_<model>.png/.pdf`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from benchmark import records
from benchmark.records import RunRecord
from benchmark.report.render import Summary, Table, render
from benchmark.report.runs import rerank_of
from benchmark.report.tables import summary
from protocols import metrics
from protocols.errors import InputError

log = logging.getLogger("benchmark.report.frontier")

ACCURACY, GINI, COVERAGE = "full:NDCG@10", "full:Gini@10", "full:coverage@10"
COLUMNS = (
    ACCURACY,
    "full:HR@10",
    COVERAGE,
    "full:long_tail@10",
    "full:ARP@10",
    GINI,
    "full:top1%_share@10",
    "full:top10%_share@10",
    "sampled:coverage@10",  # inside each user's 101 sampled candidates: never the catalogue's
)
LOSSES = (0.01, 0.05)  # validation NDCG@10 a chosen strength may give up, relative
N_GROUPS = 5  # users in quintiles of their history's share of short-head items


def specs(param: str, text: str | None) -> list[str]:
    """The grid as re-ranker specs: "" (the model's own ranking, always included) and
    `NAME=STRENGTH` for each value; `rerank` alone: every registered one over its own grid.
    A strength of 0 is the model's own ranking, run once as "" rather than per re-ranker."""
    from protocols.rerank import RERANKERS, canonical

    _, colon, name = param.partition(":")
    if not colon:
        if text:
            raise InputError(
                "--param rerank runs every re-ranker's own grid: name one for --values"
            )
        pairs = [(n, v) for n in RERANKERS for v in RERANKERS.get(n).strength.grid]
    else:
        cls = RERANKERS.get(name)
        grid = cls.strength.grid if not text else _numbers(text)
        pairs = [(cls.name, v) for v in grid]
    plain = [(n, v) for n, v in pairs if v == 0 and RERANKERS.get(n).strength.low == 0]
    return [""] + sorted({canonical(f"{n}={v:g}") for n, v in pairs if (n, v) not in plain})


def _numbers(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--values for a re-ranker expects numbers: {text!r}") from None
    if not values:
        raise InputError("--values is empty")
    return values


def grouped(recs: list[RunRecord], split: str = "test"):
    """{model: {(re-ranker, strength): [Summary per COLUMNS]}}, the plain run as ("", 0)."""
    runs: dict[str, dict[tuple, list[RunRecord]]] = {}
    for r in recs:
        runs.setdefault(r.model, {}).setdefault(rerank_of(r), []).append(r)
    return {
        model: {point: [summary(rs, c, split) for c in COLUMNS] for point, rs in sorted(by.items())}
        for model, by in sorted(runs.items())
    }


def point_label(point: tuple[str, float]) -> str:
    from protocols.rerank import RERANKERS

    name, value = point
    if not name:
        return "none (the model's ranking)"
    return f"{name} {RERANKERS.get(name).strength.symbol}={value:g}"


def pareto(cells: dict[tuple, list]) -> set[tuple]:
    """The points no other point beats on both test NDCG@10 (higher) and Gini@10 (lower)."""
    a, g = COLUMNS.index(ACCURACY), COLUMNS.index(GINI)
    means = {p: (c[a].mean, c[g].mean) for p, c in cells.items() if c[a] and c[g]}
    return {
        p
        for p, (acc, gini) in means.items()
        if not any(
            o != p and acc2 >= acc and gini2 <= gini and (acc2 > acc or gini2 < gini)
            for o, (acc2, gini2) in means.items()
        )
    }


def chosen(valid: dict[tuple, list], loss: float) -> dict[str, tuple | None]:
    """Per re-ranker: its strongest grid point whose validation NDCG@10 (mean over seeds) is
    at least (1 - loss) x the model's own; None when no point is."""
    from protocols.rerank import RERANKERS

    a = COLUMNS.index(ACCURACY)
    plain = valid.get(("", 0.0))
    if plain is None or plain[a] is None:
        return {}
    floor = (1 - loss) * plain[a].mean
    out: dict[str, tuple | None] = {}
    for name in sorted({n for n, _ in valid if n}):
        increasing = RERANKERS.get(name).strength.increasing
        ok = [p for p, c in valid.items() if p[0] == name and c[a] and c[a].mean >= floor]
        strongest = max if increasing else min
        out[name] = strongest(ok, key=lambda p: p[1]) if ok else None
    return out


def choice_rows(test: dict, valid: dict) -> list[tuple[str, tuple]]:
    """Rows of the choice table: for each re-ranker and allowed loss, the chosen strength and
    its test NDCG@10 (and relative to the model's own), coverage, long-tail share and Gini."""
    a = COLUMNS.index(ACCURACY)
    plain = test[("", 0.0)]
    picked = ("full:coverage@10", "full:long_tail@10", GINI)
    rows = [
        ("none", (_fixed(0), plain[a], _fixed(1.0), *(plain[COLUMNS.index(c)] for c in picked)))
    ]
    for loss in LOSSES:
        for name, point in chosen(valid, loss).items():
            label = f"{name}, <= {loss:.0%} loss"
            if point is None:
                rows.append((label + " (no grid point)", (None,) * 6))
                continue
            cells = test[point]
            ratio = _fixed(cells[a].mean / plain[a].mean) if cells[a] and plain[a].mean else None
            rows.append(
                (
                    label,
                    (_fixed(point[1]), cells[a], ratio, *(cells[COLUMNS.index(c)] for c in picked)),
                )
            )
    return rows


def _fixed(value: float) -> Summary:
    return Summary(float(value), None, 1)


def taste_groups(shares: np.ndarray) -> np.ndarray:
    """Each user's quintile (0 = the most niche) by rank of its history's short-head share;
    users with equal shares share a group, so a group may be empty (many users share 0.0 on
    sparse data, and splitting them by user order would compare nothing)."""
    from scipy.stats import rankdata

    return (rankdata(shares, method="min").astype(np.int64) - 1) * N_GROUPS // max(len(shares), 1)


def who_pays(recs: list[RunRecord], points: list[tuple]) -> tuple[tuple[str, ...], list]:
    """Test NDCG@10 by quintile of the user's history share in the short head (Q1: the most
    niche users), for the given points of one model (means over seeds)."""
    by_point: dict[tuple, list[RunRecord]] = {}
    for r in recs:
        by_point.setdefault(rerank_of(r), []).append(r)
    first = by_point[("", 0.0)][0].ranks()
    shares = first["head_share.test"]
    group = taste_groups(shares)
    groups = [g for g in range(N_GROUPS) if (group == g).any()]
    columns = tuple(
        f"Q{g + 1} ({shares[group == g].min():.2f}-{shares[group == g].max():.2f}; "
        f"{(group == g).mean():.0%} of users)"
        for g in groups
    )
    rows = []
    for point in points:
        per_seed = []
        for r in by_point.get(point, []):
            ranks = r.ranks()
            gains = metrics.ndcg(ranks["full.test"], 10)
            per_seed.append([gains[group == g].mean() for g in groups])
        if per_seed:
            means = np.array(per_seed)
            cells = tuple(Summary.of(list(means[:, g])) for g in range(len(columns)))
            rows.append((point_label(point), cells))
    return columns, rows


def write_outputs(out: Path, recs: list[RunRecord], description: str) -> str:
    """The frontier tables (all models, one file per format) and one figure per model;
    returns the Markdown."""
    test, valid = grouped(recs, "test"), grouped(recs, "valid")
    n_seeds = len({r.seed for r in recs})
    seeds = f"mean ± sample std over {n_seeds} seeds" if n_seeds > 1 else "one seed"
    parts: list[dict[str, str]] = []
    for model, cells in test.items():
        if ("", 0.0) not in cells:
            log.warning("%s: no run without a re-ranker: no frontier", model)
            continue
        front = pareto(cells)
        rows = tuple((point_label(p), tuple(c)) for p, c in cells.items())
        marks = {(point_label(p), ""): " *" for p in front}
        parts.append(
            render(
                Table(
                    f"{model} on {description}: each re-ranker over its strengths, full ranking, "
                    f"test set, {seeds}; * = Pareto-efficient in NDCG@10 (higher) and Gini@10 "
                    "(lower) over every point of the table.",
                    (("", COLUMNS),),
                    rows,
                    ranked=False,
                    marks=marks,
                )
            )
        )
        parts.append(
            render(
                Table(
                    f"{model}: the strongest grid point of each re-ranker whose validation "
                    "NDCG@10 stays within 1% and 5% (relative) of the model's own ranking, "
                    f"chosen on the validation split and reported on test ({seeds}); "
                    "NDCG ratio = test NDCG@10 over the model's own.",
                    (
                        (
                            "",
                            (
                                "strength",
                                ACCURACY,
                                "NDCG ratio",
                                COVERAGE,
                                "full:long_tail@10",
                                GINI,
                            ),
                        ),
                    ),
                    tuple(choice_rows(cells, valid[model])),
                    ranked=False,
                )
            )
        )
        points = [("", 0.0)] + sorted(
            {p for loss in LOSSES for p in chosen(valid[model], loss).values() if p}
        )
        try:
            columns, user_rows = who_pays([r for r in recs if r.model == model], points)
        except (FileNotFoundError, KeyError):
            columns, user_rows = (), []  # records without their per-user ranks
        if user_rows:
            parts.append(
                render(
                    Table(
                        f"{model}: who pays. Test NDCG@10 (full ranking) by users' taste for "
                        "popular items: quintiles of users by the share of their input history "
                        "in the short head (range and share of users in brackets; Q1 the most niche; "
                        "users with equal shares in one group), for the "
                        f"model's ranking and each chosen strength ({seeds}).",
                        (("", columns),),
                        tuple(user_rows),
                        ranked=False,
                    )
                )
            )
        figure(out / f"frontier_{model}", model, cells, front, description)
    if not parts:
        raise InputError("no model has a run without a re-ranker: nothing to compare against")
    rendered = {fmt: "\n".join(p[fmt] for p in parts) for fmt in parts[0]}
    for fmt, text in rendered.items():
        records.write_text(out / f"frontier.{fmt}", text)
    return rendered["md"]


def figure(stem: Path, model: str, cells: dict, front: set, description: str) -> None:
    """NDCG@10 against Gini@10 and against coverage@10: one curve per re-ranker (strengths in
    order, error bars over seeds), the model's own ranking as a star, the Pareto front dashed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'seqrec-bench[plot]'): no figure")
        return
    a = COLUMNS.index(ACCURACY)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, x_column in zip(axes, (GINI, COVERAGE), strict=True):
        x = COLUMNS.index(x_column)

        def xy(point, x=x):
            c = cells[point]
            return c[x].mean, c[a].mean, c[x].std or 0.0, c[a].std or 0.0

        for name in sorted({n for n, _ in cells if n}):
            points = sorted((p for p in cells if p[0] == name), key=lambda p: p[1])
            values = [xy(p) for p in points]
            ax.errorbar(
                [v[0] for v in values],
                [v[1] for v in values],
                xerr=[v[2] for v in values],
                yerr=[v[3] for v in values],
                marker="o",
                ms=4,
                capsize=2,
                label=name,
            )
        plain = xy(("", 0.0))
        ax.plot(plain[0], plain[1], "k*", ms=12, label="model's ranking", zorder=5)
        if x_column == GINI:
            edge = sorted(xy(p)[:2] for p in front)
            ax.plot([e[0] for e in edge], [e[1] for e in edge], "k--", lw=1, label="Pareto front")
        ax.set_xlabel(f"{x_column.split(':')[1]} (full ranking, test)")
        ax.set_ylabel("NDCG@10 (full ranking, test)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"{model} on {description}: accuracy against exposure", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.82, 1))
    records.save_figure(fig, stem)
    plt.close(fig)
