"""Run models under one protocol and write one record per run.

python -m benchmark.run --dataset ml-100k --models pop,itemknn,mf-als --seeds 0,1,2 --out results/x
python -m benchmark.run --config study.toml          # an experiment file; flags override it
"""

from __future__ import annotations

import argparse
import sys

from benchmark.commands import OneLineParser, guarded, setup_logging
from benchmark.executors import execute
from benchmark.experiment import (
    add_run_options,
    configs_from_values,
    early_options,
    merged,
    plugin_list,
)


def parser(prog: str = "python -m benchmark.run") -> OneLineParser:
    from benchmark.models import list_models

    p = OneLineParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--models",
        default=None,
        help=f"comma-separated model names, or all (registered: {', '.join(list_models())})",
    )
    add_run_options(p)
    return p


@guarded
def main(argv: list[str] | None = None) -> int:
    early = early_options(argv)  # plugins first: --help lists their models
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    values = merged(args)
    configs = configs_from_values(values)
    plugins = plugin_list(values, early)
    execute(
        configs,
        str(values.get("out", "results/default")),
        bool(values.get("force", False)),
        executor=values.get("executor", "local"),
        jobs=int(values.get("jobs", 1)),
        ray_address=args.ray_address,
        plugins=plugins,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
