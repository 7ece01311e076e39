"""Does a change to training alter what a model learns? Both arms, the same seeds, paired.

    PYTHONPATH=. python bench/bench_paired_seeds.py --change bucketing --models gru,sasrec --seeds 0,1,2,3,4
    PYTHONPATH=. python bench/bench_paired_seeds.py --change dropout --models gru,sasrec --seeds 0,1,2,3,4

`--change bucketing`: `bucketed` is the trainer as it is (`seqmodels.train.length_batches`:
windows grouped by length, each batch cut to its longest row); `padded` replaces that one
function with random batches, every one as wide as the longest window, as the trainer had them
before bucketing. `--change dropout`: `fast` is the trainer as it is (CPU masks from 16-bit
lanes, `seqmodels.dropout`); `torch` keeps torch's own nn.Dropout modules. Everything else
(data, split, model, early stopping on validation) is the same. Per seed the table gives test
full-ranking NDCG@10 and HR@10, the best epoch and the fit seconds (validation included);
then, per model, the two arms' means over seeds and a paired t-test over seeds (a seed gives
both arms the same initial weights). Runs go two at a time, one thread each, every run in a
fresh process (an arm's patch must not leak into the next run).
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


def torch_dropout(net):
    """The nets as they were before `seqmodels.dropout`: torch's own nn.Dropout modules."""
    return net


ARMS = {"bucketing": ("bucketed", "padded"), "dropout": ("fast", "torch")}


def fit_and_score(model_name: str, arm: str, seed: int, dataset: str, device: str) -> dict:
    torch.set_num_threads(1)  # two runs share the two cores
    logging.basicConfig(level=logging.WARNING)
    if arm == "padded":
        import seqmodels.train

        seqmodels.train.length_batches = padded_batches
    if arm == "torch":
        import seqmodels.base

        seqmodels.base.use_fast_dropout = torch_dropout
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
    parser.add_argument("--change", choices=sorted(ARMS), default="bucketing")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default="gru")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = ARMS[args.change]
    runs = [(m, arm, s) for m in args.models.split(",") for arm in arms for s in seeds]
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:
        futures = [pool.submit(fit_and_score, *run, args.dataset, args.device) for run in runs]
        results = dict(zip(runs, (f.result() for f in futures), strict=True))
    rows = [
        [m, arm, s, f"{r['ndcg'].mean():.4f}", f"{r['hr'].mean():.4f}", r["best_epoch"],
         f"{r['seconds']:.0f}"]
        for (m, arm, s), r in results.items()
    ]  # fmt: skip
    print(f"{args.dataset}, default parameters, device {args.device}, test set, full ranking\n")
    print(tabulate(rows, ["model", args.change, "seed", "NDCG@10", "HR@10", "best epoch", "fit s"],
                   tablefmt="github"))  # fmt: skip
    summary = []
    for m in args.models.split(","):
        means = {arm: [results[(m, arm, s)]["ndcg"].mean() for s in seeds] for arm in arms}
        p = ttest_rel(*means.values()).pvalue if len(seeds) > 1 else np.nan
        for arm, values in means.items():
            seconds = np.mean([results[(m, arm, s)]["seconds"] for s in seeds])
            spread = f" ± {np.std(values, ddof=1):.4f}" if len(seeds) > 1 else ""
            summary.append([m, arm, f"{np.mean(values):.4f}{spread}", f"{seconds:.0f}"])
        summary[-1].append(f"{p:.3g}")
    print(f"\nmean ± sd over seeds {args.seeds}; p: paired t-test over the seeds\n")
    print(tabulate(summary, ["model", args.change, "NDCG@10", "fit s", "p"], tablefmt="github"))


if __name__ == "__main__":
    main()
