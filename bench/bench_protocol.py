"""Time and peak memory of each protocol stage: load, split, sequences, candidates, evaluation.

    python bench/bench_protocol.py                       # ML-100K, ML-1M (ratings >= 4), ML-20M-sized synthetic
    python bench/bench_protocol.py --datasets ml-100k --device cuda

Evaluation scores every valid and test user with `pop` under both protocols at once, so it
measures the evaluator itself. Peak memory is what tracemalloc saw allocated (NumPy, pandas
and Python objects; not torch's own allocator) during the stage.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
import tracemalloc

from tabulate import tabulate

from benchmark.config import RunConfig
from benchmark.datasets import load_raw
from benchmark.models import create_model
from benchmark.pipeline import device_label, make_fit_data
from protocols.data import to_implicit
from protocols.evaluate import rank_targets
from protocols.negatives import draw_candidates
from protocols.sequences import last_items, training_windows
from protocols.split import leave_one_out

PRESETS = {
    "ml-100k": ("ml-100k", None),
    "ml-1m-r4": ("ml-1m", 4.0),
    "synthetic-20m": (
        "synthetic:n_users=138000,n_items=27000,mean_length=145,n_clusters=200",
        None,
    ),
}


def timed(rows: list, label: str, stage: str, fn):
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rows.append([label, stage, f"{seconds:.2f}", f"{peak:.0f}"])
    return result


def bench(label: str, spec: str, min_rating: float | None, seq_len: int, device: str) -> list:
    rows: list = []
    raw = timed(rows, label, "read file", lambda: load_raw(spec, min_rating_hint=min_rating))
    data = timed(rows, label, "to implicit", lambda: to_implicit(raw, min_rating))

    split = timed(rows, label, "leave-one-out split", lambda: leave_one_out(data))
    timed(
        rows,
        label,
        f"training windows (L={seq_len})",
        lambda: training_windows(split.train, seq_len),
    )
    timed(
        rows, label, f"test sequences (L={seq_len})", lambda: last_items(split.test.inputs, seq_len)
    )
    negatives = timed(
        rows,
        label,
        "100 uniform negatives",
        lambda: draw_candidates(data, split, 100, "uniform", 0),
    )
    timed(
        rows,
        label,
        "100 popularity negatives",
        lambda: draw_candidates(data, split, 100, "popularity", 0),
    )
    model = create_model("pop").fit(
        make_fit_data(RunConfig().replace(seq_len=seq_len), data, split)
    )
    timed(
        rows,
        label,
        f"evaluate test, both protocols ({split.test.n_users} users, {device})",
        lambda: rank_targets(
            model,
            split.test,
            data.n_items,
            seq_len,
            negatives["test"],
            batch_size=1024,
            device=device,
        ),
    )
    rows.append(
        [
            label,
            f"({data.n_users} users, {data.n_items} items, {data.n_interactions} interactions)",
            "",
            "",
        ]
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(PRESETS), help="comma-separated presets")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for name in args.datasets.split(","):
        spec, min_rating = PRESETS[name]
        rows += bench(name, spec, min_rating, args.seq_len, args.device)
    device = device_label(args.device)
    print(tabulate(rows, ["data", "stage", "seconds", "peak MB (traced)"], tablefmt="github"))
    print(
        f"\ndevice: {device}; process peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
