"""Run models under one protocol and write one record per run.

python -m benchmark.run --dataset ml-100k --models pop,itemknn,mf-als --seeds 0,1,2 --out results/x
python -m benchmark.run --config study.toml          # an experiment file; flags override it
python -m benchmark.run ... --estimate               # the expected time of what would run, only
"""

from __future__ import annotations

import argparse
import sys

from benchmark.commands import OneLineParser, guarded, setup_logging
from benchmark.cost import estimate
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
    p.add_argument(
        "--estimate",
        action="store_true",
        help="time a sample of each missing run's training and evaluation, print the expected "
        "seconds per model and the wall time with --jobs N, write OUT/estimate.json; run nothing",
    )
    return p


@guarded
def main(argv: list[str] | None = None) -> int:
    early = early_options(argv)  # plugins first: --help lists their models
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    values = merged(args)
    configs = configs_from_values(values)
    plugins = plugin_list(values, early)
    out, jobs = str(values.get("out", "results/default")), int(values.get("jobs", 1))
    if args.estimate:
        print(estimate(configs, out, bool(values.get("force", False)), jobs))
        return 0
    execute(
        configs,
        out,
        bool(values.get("force", False)),
        executor=values.get("executor", "local"),
        jobs=jobs,
        ray_address=args.ray_address,
        plugins=plugins,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
