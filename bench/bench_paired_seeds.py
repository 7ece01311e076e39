"""Do length-bucketed batches change what a model learns? Three seeds each way.

    PYTHONPATH=. python bench/bench_bucketing.py                      # gru on ML-100K, CPU
    PYTHONPATH=. python bench/bench_bucketing.py --models gru,sasrec --seeds 0,1,2,3,4

`bucketed` is the trainer as it is (`seqmodels.train.length_batches`: windows grouped by
length, each batch cut to its longest row). `padded` replaces that one function with random
batches, every one as wide as the longest window, as the trainer had them before bucketing.
Everything else (data, split, model, the loss weighted by each batch's share of positions,
early stopping on validation) is the same. Per seed the table gives test
full-ranking NDCG@10 and HR@10, the best epoch and the fit seconds (validation included);
then, per model, the two modes' means over seeds and a paired t-test over seeds (a seed gives
both modes the same initial weights; what differs is the batches). Runs go two at a time, one
thread each, every run in a fresh process (the `padded` patch must not leak into the next).
"""

from __future__ import annotations

import argparse
import logging
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from scipy.stats import ttest_rel
from tabulate import tabulate

from benchmark.config import RunConfig
from benchmark.models import create_model
from benchmark.pipeline import make_fit_data, prepare
from protocols.evaluate import rank_targets
from protocols.metrics import hit_rate, ndcg


def padded_batches(lengths: torch.Tensor, batch_size: int, chunk: int = 0):
    """The trainer's batches before bucketing: a random order, each batch as wide as the
    longest window of the data."""
    width = max(int(lengths.max()), 1)
    return [(rows, width) for rows in torch.randperm(len(lengths)).split(batch_size)]


def fit_and_score(model_name: str, mode: str, seed: int, dataset: str, device: str) -> dict:
    torch.set_num_threads(1)  # two runs share the two cores
    logging.basicConfig(level=logging.WARNING)
    if mode == "padded":
        import seqmodels.train

        seqmodels.train.length_batches = padded_batches
    config = RunConfig().replace(dataset=dataset, seed=seed, device=device).validate()
    prepared = prepare(config)
    data, split = prepared.data, prepared.split
    model = create_model(model_name)
    start = time.perf_counter()
    model.fit(make_fit_data(config, data, split))
    seconds = time.perf_counter() - start
    ranks = rank_targets(
        model, split.test, data.n_items, config.protocol.seq_len, None, device=device
    )
    return {
        "users": split.test.users,
        "ndcg": ndcg(ranks.full, 10),
        "hr": hit_rate(ranks.full, 10),
        "best_epoch": model.training_["best_epoch"],
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default="gru")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [
        (m, mode, s)
        for m in args.models.split(",")
        for mode in ("bucketed", "padded")
        for s in seeds
    ]
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        futures = [pool.submit(fit_and_score, *run, args.dataset, args.device) for run in runs]
        results = dict(zip(runs, (f.result() for f in futures), strict=True))
    rows = [
        [m, mode, s, f"{r['ndcg'].mean():.4f}", f"{r['hr'].mean():.4f}", r["best_epoch"],
         f"{r['seconds']:.0f}"]
        for (m, mode, s), r in results.items()
    ]  # fmt: skip
    print(f"{args.dataset}, default parameters, device {args.device}, test set, full ranking\n")
    print(tabulate(rows, ["model", "batches", "seed", "NDCG@10", "HR@10", "best epoch", "fit s"],
                   tablefmt="github"))  # fmt: skip
    summary = []
    for m in args.models.split(","):
        means = {
            mode: [results[(m, mode, s)]["ndcg"].mean() for s in seeds]
            for mode in ("bucketed", "padded")
        }
        p = ttest_rel(means["bucketed"], means["padded"]).pvalue if len(seeds) > 1 else np.nan
        for mode, values in means.items():
            seconds = np.mean([results[(m, mode, s)]["seconds"] for s in seeds])
            spread = f" ± {np.std(values, ddof=1):.4f}" if len(seeds) > 1 else ""
            summary.append([m, mode, f"{np.mean(values):.4f}{spread}", f"{seconds:.0f}"])
        summary[-1].append(f"{p:.3g}")
    print(f"\nmean ± sd over seeds {args.seeds}; p: paired t-test over the seeds\n")
    print(tabulate(summary, ["model", "batches", "NDCG@10", "fit s", "p"], tablefmt="github"))


if __name__ == "__main__":
    main()
