"""Comparison tables generated from run records (never edited by hand).

python -m benchmark.report results/ml-100k results/ml-1m   # one table, data sets as column groups
python -m benchmark.report results/ml-1m --analysis       # plus accuracy by popularity / history
python -m benchmark.report results/s3rec-beauty --published  # published figures beside ours

Each table is written as .md, .tex (booktabs) and a tidy .csv into the first folder (or --to).
Imports neither torch nor any model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.commands import OneLineParser, guarded
from benchmark.cost import write_comparison
from benchmark.report.published import write_published
from benchmark.report.tables import DEFAULT_COLUMNS, write_analysis, write_tables
from protocols.errors import InputError


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark.report", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    a = parser.add_argument
    a("folders", type=Path, nargs="+", help="--out folders of benchmark.run (or ablate)")
    a("--split", default="test", choices=["test", "valid"])
    a(
        "--columns",
        default=",".join(DEFAULT_COLUMNS),
        help="protocol:metric list (default %(default)s)",
    )
    a(
        "--analysis",
        action="store_true",
        help="also HR@10/NDCG@10 by target popularity and by history length (tables + figure)",
    )
    a(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep runs whose config (or model parameter) matches, e.g. alpha=0 (repeatable)",
    )
    a("--allow-mixed", action="store_true", help="allow runs of different code in one table")
    a("--order", default="", help="models to list first, in this order (default: baselines, "
      "then the others, each in their declared order)")  # fmt: skip
    a(
        "--published",
        action="store_true",
        help="also published figures on the same data version and protocol beside ours "
        "(published.md/.csv; test set)",
    )
    a("--to", type=Path, default=None, help="where the tables go (default: the first folder)")
    args = parser.parse_args(argv)  # fmt: skip
    for folder in args.folders:
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder")
    columns = tuple(c.strip() for c in args.columns.split(",") if c.strip())
    if any(c.count(":") != 1 for c in columns):
        raise InputError("--columns entries look like sampled:HR@10 or full:NDCG@10")
    order = tuple(m.strip() for m in args.order.split(",") if m.strip())
    common = dict(only=tuple(args.only), allow_mixed=args.allow_mixed, to=args.to, order=order)
    print(write_tables(args.folders, columns, args.split, **common))
    for folder in args.folders:  # where the runs were estimated first: actual / estimate
        compared = write_comparison(folder)
        if compared:
            print(compared)
    if args.analysis:
        print(write_analysis(args.folders, args.split, **common))
    if args.published:
        print(write_published(args.folders, columns, **common))
    return 0
