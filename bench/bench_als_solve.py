"""`mf-als`'s user solve at scoring time: `UserSolver` (Woodbury) against implicit's own.

    SEQREC_DATA=../shared/datasets PYTHONPATH=. python bench/bench_als_solve.py --dataset s3rec-beauty --factors 238

Fits `mf-als` once (the given factors, alpha, iterations and regularization), then solves every
training history's user vector both ways on one thread: seconds (best of two) and the largest
difference between the two vectors, beside the fit's seconds and the score product's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmark.config import RunConfig
from benchmark.models import create_model
from benchmark.pipeline import make_fit_data, prepare


def best_of_two(work) -> tuple[float, object]:
    seconds = []
    for _ in range(2):
        begin = time.perf_counter()
        out = work()
        seconds.append(time.perf_counter() - begin)
    return min(seconds), out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    a = parser.add_argument
    a("--dataset", default="s3rec-beauty")
    a("--factors", type=int, default=238)
    a("--alpha", type=float, default=43.4)
    a("--iterations", type=int, default=7)
    a("--regularization", type=float, default=0.281)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = RunConfig().replace(dataset=args.dataset)
    prepared = prepare(config)
    fit = make_fit_data(config, prepared.data, prepared.split)
    model = create_model(
        "mf-als",
        factors=args.factors,
        alpha=args.alpha,
        iterations=args.iterations,
        regularization=args.regularization,
    )
    begin = time.perf_counter()
    model.fit(fit)
    fit_seconds = time.perf_counter() - begin
    history = fit.train_matrix().tocsr()
    history.data[:] = 1.0
    ours_seconds, ours = best_of_two(lambda: model.solver_(history))
    users = np.arange(history.shape[0])
    theirs_seconds, theirs = best_of_two(lambda: model.model_.recalculate_user(users, history))
    items = torch.from_numpy(np.asarray(model.model_.item_factors, dtype=np.float32))
    vectors = torch.from_numpy(ours)
    product_seconds, _ = best_of_two(
        lambda: [vectors[s : s + 512] @ items.T for s in range(0, len(vectors), 512)]
    )
    print(
        f"{args.dataset}: {len(users)} training histories, mf-als factors={args.factors} "
        f"alpha={args.alpha} iterations={args.iterations} regularization={args.regularization}\n"
        f"fit {fit_seconds:.2f} s; user solve: UserSolver {ours_seconds:.2f} s, implicit "
        f"{theirs_seconds:.2f} s; largest difference {np.abs(ours - theirs).max():.2e} "
        f"(largest entry {np.abs(theirs).max():.2f}); score product {product_seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
