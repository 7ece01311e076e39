"""How close each sampled-to-full estimator gets to the true full-ranking metric.

    python bench/bench_estimate.py results/ml-100k [more result folders] [--split valid]

For every single-target run (α = 0) in the folders: the true full-ranking HR@10 and NDCG@10
(validation set by default), the sampled value, the rank-rescaling estimate (full rank ~
r (C - 1) / N) and the Krichene-Rendle bias-variance estimate for several γ, all from the saved
per-user ranks. The mean absolute error rows (per data set) on the validation split are what
chose the default γ (protocols.estimate.GAMMA); `--split test` shows how that choice holds up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark import records
from protocols import metrics
from protocols.estimate import estimate_full

GAMMAS = (0.001, 0.01, 0.1, 1.0)
METRICS = ("HR@10", "NDCG@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    args = parser.parse_args()
    rows, errors = [], []
    part = args.split
    for folder in args.folders:
        for rec in records.read_records(folder):
            if rec.config.protocol.alpha or rec.config.data.targets_per_user != 1:
                continue
            ranks = rec.ranks()
            sampled, full = ranks[f"sampled.{part}"], ranks[f"full.{part}"]
            candidates = ranks[f"full_candidates.{part}"]
            n = rec.config.protocol.num_negatives
            rescaled = np.floor(sampled * (candidates[:, None] - 1) / n).astype(np.int64)
            truth, samp, resc = (metrics.per_user(r, (10,)) for r in (full, sampled, rescaled))
            bv = [estimate_full(sampled, candidates, n, (10,), g) for g in GAMMAS]
            for m in METRICS:
                values = [truth[m].mean(), samp[m].mean(), resc[m].mean()]
                values += [e[m].mean() for e in bv]
                rows.append([rec.dataset["name"], rec.model, m, *values])
                errors.append((rec.dataset["name"], [abs(v - values[0]) for v in values[1:]]))
    headers = ["data", "model", "metric", "full (truth)", "sampled", "rescaled rank"]
    headers += [f"BV γ={g:g}" for g in GAMMAS]
    print(tabulate(rows, headers, floatfmt=".4f", tablefmt="github"))
    print(f"\n{part} split: mean absolute error vs the truth (HR@10 and NDCG@10 of every model):")
    for data in sorted({d for d, _ in errors}):
        mean_error = np.mean([e for d, e in errors if d == data], axis=0)
        print(
            f"{data}: "
            + ", ".join(f"{h} {e:.4f}" for h, e in zip(headers[4:], mean_error, strict=True))
        )


if __name__ == "__main__":
    main()
