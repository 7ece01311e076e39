"""Time to accuracy on ML-100K: training seconds until test NDCG@10 first reaches a target.

    python bench/bench_convergence.py                    # gru, cnn, sasrec on the CPU
    python bench/bench_convergence.py --device cuda

The default targets are what RecBole 1.2.1's GRU4Rec reaches on ML-100K after converging
(801 s on a 2-core CPU): NDCG@10 0.049 under full ranking and 0.379 with 100 sampled negatives.
After each epoch a hook scores the test users for this measurement only (training, early
stopping and checkpoint choice never see it); its own time is not counted.
"""

from __future__ import annotations

import argparse
import logging

from tabulate import tabulate

from benchmark.config import RunConfig
from benchmark.models import create_model
from benchmark.pipeline import device_label, make_fit_data, prepare
from protocols.evaluate import rank_targets
from protocols.metrics import ndcg
from seqmodels.train import epoch_seconds


def measure(name: str, config: RunConfig, full_target: float, sampled_target: float) -> list:
    prepared = prepare(config)
    data, split, negatives = prepared.data, prepared.split, prepared.negatives
    fit = make_fit_data(config, data, split)
    model = create_model(name)
    state = {"seconds": 0.0, "reached": None}

    def on_epoch(model, entry):
        state["seconds"] += epoch_seconds(entry)
        ranks = rank_targets(
            model,
            split.test,
            data.n_items,
            config.protocol.seq_len,
            negatives["test"],
            device=config.device,
        )
        full, sampled = ndcg(ranks.full, 10).mean(), ndcg(ranks.sampled, 10).mean()
        if state["reached"] is None and full >= full_target and sampled >= sampled_target:
            state["reached"] = (entry["epoch"], state["seconds"], full, sampled)

    model.epoch_hooks = (on_epoch,)
    model.fit(fit)
    epoch, seconds, full, sampled = state["reached"] or (None, None, None, None)
    report = model.training_
    return [
        name,
        epoch,
        _fmt(seconds),
        _fmt(full, 4),
        _fmt(sampled, 4),
        report["best_epoch"],
        len(report["history"]),
        _fmt(state["seconds"]),
    ]


def _fmt(value, digits: int = 1) -> str:
    return "not reached" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default="gru,cnn,sasrec")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-ndcg", type=float, default=0.049)
    parser.add_argument("--sampled-ndcg", type=float, default=0.379)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = RunConfig().replace(dataset=args.dataset, device=args.device).validate()
    rows = [measure(m, config, args.full_ndcg, args.sampled_ndcg) for m in args.models.split(",")]
    device = device_label(args.device)
    print(
        f"{args.dataset}, default parameters, device: {device}; target: test NDCG@10 >= "
        f"{args.full_ndcg} (full) and >= {args.sampled_ndcg} (100 sampled negatives)\n"
    )
    print(
        tabulate(
            rows,
            [
                "model",
                "epoch reached",
                "seconds to reach",
                "full NDCG@10",
                "sampled NDCG@10",
                "best epoch",
                "epochs run",
                "seconds to early stop",
            ],
            tablefmt="github",
        )
    )


if __name__ == "__main__":
    main()
