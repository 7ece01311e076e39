"""`python -m benchmark.datasets list | info SPEC`: what data sets there are, and what one holds.

`list`: every registered data set with its source, recipe, the file it needs and whether that
file is in the data folder. `info SPEC` (a registered name or csv:/seq:/pairs:/atomic:/
synthetic: spec): users, items, interactions, history length, density, repeated pairs and the
share of events whose timestamp equals the one before (in the same history), on the data as
a run would see it with the given filters and `--repeats` (default keep, so repeats show).
"""

from __future__ import annotations

import logging

from tabulate import tabulate

from benchmark.commands import OneLineParser, guarded
from benchmark.datasets.load import data_root, load_raw
from benchmark.datasets.registry import DATASETS
from benchmark.datasets.statistics import statistics
from protocols.data import REPEATS, to_implicit


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
        rows = [[s.name, s.kind, s.source, s.recipe, s.needs, s.expected,
                 "yes" if s.present(root) else "no"] for s in DATASETS.values()]  # fmt: skip
        print(f"data folder: {root}")
        header = ["name", "kind", "source", "recipe", "file", "checked by", "present"]
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
