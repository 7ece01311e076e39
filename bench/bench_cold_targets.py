"""What a split that drops cold test targets would make of our figures.

    SEQREC_DATA=../shared/datasets PYTHONPATH=. python bench/bench_cold_targets.py \
        s3rec-beauty results/s3rec-beauty-converged --models esasrec,sasrec,hstu,duorec

Some published splits (the eSASRec benchmark's on the S3-Rec Beauty file, 22,311 of 22,363
users) evaluate only the users whose test item occurs in some training sequence: a model cannot
have learnt an item it never saw. Ours keeps every user. This reads the per-user test ranks of
the folder's runs and sets each run's full NDCG@10 over every user beside the same over the users
whose test item (the last event of the history) occurs in another position of any history, so
the two figures can be compared as the published ones are. Nothing is trained or ranked again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tabulate import tabulate

from benchmark import records
from benchmark.datasets.load import load_raw
from protocols.data import to_implicit

K = 10


def cold_target_users(dataset: str) -> np.ndarray:
    """Internal ids of the users whose last item occurs nowhere but in last positions."""
    data = to_implicit(load_raw(dataset))
    h = data.histories
    ends = h.indptr[1:] - 1
    last = np.zeros(len(h.items), dtype=bool)
    last[ends] = True
    trained = np.zeros(data.n_items + 1, dtype=bool)
    trained[h.items[~last]] = True
    return np.flatnonzero(~trained[h.items[ends]])


def ndcg(ranks: np.ndarray) -> np.ndarray:
    """Per-user NDCG@K of one target from its 0-based rank (ties already counted against it)."""
    return np.where(ranks < K, 1 / np.log2(ranks + 2), 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--models", help="comma-separated (default: every model in the folder)")
    args = parser.parse_args()
    cold = cold_target_users(args.dataset)
    wanted = set(args.models.split(",")) if args.models else None
    rows = []
    for path in sorted((args.folder / "runs").glob("*.json")):
        record = records.read_record(path)
        if wanted is not None and record.model not in wanted:
            continue
        ranks = np.load(path.with_suffix(".ranks.npz"))
        users, per_user = ranks["users.test"], ndcg(ranks["full.test"][:, 0])
        kept = ~np.isin(users, cold)
        rows.append([record.model, record.config.seed, per_user.mean(), per_user[kept].mean(),
                     int(kept.sum()), per_user[~kept].mean() if (~kept).any() else None])  # fmt: skip
    header = ["model", "seed", f"NDCG@{K}, every user", f"NDCG@{K}, trained targets", "users",
              f"NDCG@{K}, cold targets"]  # fmt: skip
    print(f"{args.dataset}: {len(cold)} users whose test item is in no training position\n")
    print(tabulate(sorted(rows), header, tablefmt="github", floatfmt=".4f"))


if __name__ == "__main__":
    main()
