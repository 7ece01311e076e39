"""`python -m benchmark.datasets list | info SPEC`: what data sets there are, and what one holds.

`list`: every registered data set with its source, recipe, the file it needs and whether that
file is in the data folder. `info SPEC` (a registered name or csv:/seq:/pairs:/atomic:/
synthetic: spec): users, items, interactions, history length, density, repeated pairs and the
share of events whose timestamp equals the one before (in the same history), on the data as
a run would see it with the given filters and `--repeats` (default keep, so repeats show).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark.cli import OneLineParser, guarded
from benchmark.datasets import DATASETS, data_root, load_raw
from benchmark.recipes import RECIPES, raw_path
from protocols.data import REPEATS, to_implicit
from protocols.types import Interactions


@dataclass(frozen=True)
class Entry:
    name: str
    source: str
    recipe: str
    needs: str  # the file (or folder) to have in the data folder
    present: bool


def entries(root: Path) -> list[Entry]:
    """Every registered data set, MovieLens first."""
    rows = []
    for spec in DATASETS.values():
        folder = root / spec.folder
        present = (folder / spec.ratings_file).is_file() or (root / f"{spec.name}.zip").is_file()
        partial = spec.partial_file and (folder / spec.partial_file).is_file()
        rows.append(
            Entry(
                spec.name,
                "GroupLens (downloaded and checked by sha256 when missing)",
                "grouplens-ratings: every rating is an event" + (" (--min-rating 4: see README)"
                                                                 if spec.partial_file else ""),
                f"{spec.name}.zip or {spec.folder}/{spec.ratings_file}",
                present or bool(partial),
            )
        )  # fmt: skip
    for recipe in RECIPES.values():
        path = raw_path(recipe, root)
        rows.append(
            Entry(
                recipe.name,
                recipe.source,
                recipe.recipe,
                f"{recipe.name}/{recipe.file}",
                path.is_file(),
            )
        )
    return rows


def statistics(data: Interactions) -> dict[str, float]:
    """Size, history length, density, repeats and equal timestamps of canonical interactions."""
    h = data.histories
    lengths = h.lengths
    user_of_event = np.repeat(np.arange(data.n_users), lengths)
    pair = user_of_event * (data.n_items + 1) + h.items  # one code per (user, item)
    _, counts = np.unique(pair, return_counts=True)
    same_user = np.diff(user_of_event) == 0
    equal_time = same_user & (np.diff(h.timestamps) == 0)
    return {
        "users": data.n_users,
        "items": data.n_items,
        "interactions": data.n_interactions,
        "mean history length": float(lengths.mean()),
        "median history length": float(np.median(lengths)),
        "density": data.n_interactions / (data.n_users * data.n_items),
        "repeated (user, item) pairs": int((counts > 1).sum()),
        "repeat events (dropped by --repeats first)": int((counts - 1).sum()),
        "equal-timestamp share": float(equal_time.sum() / max(1, same_user.sum())),
    }


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark.datasets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="registered data sets and whether their file is present")
    info = commands.add_parser("info", help="statistics of one data set")
    info.add_argument("spec", help="a registered name, or csv:/seq:/pairs:/atomic:PATH")
    info.add_argument("--sep", default=None, help="separator of a csv: file")
    info.add_argument("--columns", default=None, help="columns of a csv: file")
    info.add_argument("--min-rating", type=float, default=None)
    info.add_argument("--min-user-interactions", type=int, default=0)
    info.add_argument("--min-item-interactions", type=int, default=0)
    info.add_argument("--repeats", default="keep", choices=REPEATS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if args.command == "list":
        root = data_root()
        rows = [[e.name, e.source, e.recipe, e.needs, "yes" if e.present else "no"]
                for e in entries(root)]  # fmt: skip
        print(f"data folder: {root}")
        header = ["name", "source", "recipe", "file", "present"]
        print(tabulate(rows, header, tablefmt="github", disable_numparse=True))
        return 0
    raw = load_raw(args.spec, sep=args.sep, columns=args.columns, min_rating_hint=args.min_rating)
    data = to_implicit(
        raw, args.min_rating, args.min_user_interactions, args.min_item_interactions, args.repeats
    )
    stats = statistics(data)
    print(f"{raw.name} ({raw.source or 'generated'}; --repeats {args.repeats})")
    rows = [[key, _shown(value)] for key, value in stats.items()]
    print(tabulate(rows, ["statistic", "value"], tablefmt="github", disable_numparse=True))
    return 0


def _shown(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"
