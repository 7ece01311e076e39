"""How much of its epoch cap a pruned search trains, from finished studies.

    PYTHONPATH=. python bench/bench_trained_share.py results/leaderboard/ml-100k results/leaderboard/s3rec-beauty

Per folder (a `benchmark.tune` OUT), the deep models' epochs trained (`epoch_units` in
`best.json`, summed over every trial) as a share of all their trials run to the cap, per model
and over all of them. The cost estimate prices a pruned search at that share
(`benchmark.tune.search.TRAINED_SHARE`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tabulate import tabulate


def shares(folder: Path) -> tuple[dict[str, float], float, str]:
    """({model: share}, the share over every deep model, the pruner) of one finished study."""
    models = json.loads((folder / "best.json").read_text())["models"]
    per_model, trained, full, pruners = {}, 0.0, 0.0, set()
    for model, entry in sorted(models.items()):
        cap = entry["fixed"].get("epochs")
        if cap is None or not entry.get("epoch_units"):  # not trained in epochs
            continue
        per_model[model] = entry["epoch_units"] / (entry["trials"] * cap)
        trained += entry["epoch_units"]
        full += entry["trials"] * cap
        pruners.add(entry["pruner"]["name"] if entry.get("pruner") else "none")
    return per_model, trained / full, ", ".join(sorted(pruners))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    found = {folder.name: shares(folder) for folder in args.folders}
    models = sorted({m for per_model, _, _ in found.values() for m in per_model})
    rows = [
        [model] + [f"{found[f][0][model]:.2f}" if model in found[f][0] else "" for f in found]
        for model in models
    ]
    rows.append(["all deep models"] + [f"{found[f][1]:.2f}" for f in found])
    print(tabulate(rows, ["model", *found], tablefmt="github"))
    print("\nPruners: " + "; ".join(f"{f}: {found[f][2]}" for f in found))
    means = [found[f][1] for f in found]
    print(f"Mean over the folders: {sum(means) / len(means):.2f}")


if __name__ == "__main__":
    main()
