"""Training throughput and full-ranking evaluation time of each sequence model.

    python bench/bench_training.py                          # ML-1M, ratings >= 4, on the CPU
    python bench/bench_training.py --device cuda --epochs 4

Each model trains for `--epochs` epochs through the real trainer (validation included, early
stopping off); the figures are the median over epochs after the first (warm-up). Evaluation is
one full-ranking pass over the test users, timed after a warm-up pass.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch
from tabulate import tabulate

from benchmark.config import RunConfig
from benchmark.experiment import route_params
from benchmark.models import create_model, model_config
from benchmark.pipeline import device_label, load_data, make_fit_data
from protocols.evaluate import rank_targets


def bench_model(name: str, data, split, seq_len: int, epochs: int, device: str, params: dict):
    fit = make_fit_data(RunConfig().replace(seq_len=seq_len, device=device), data, split)
    model = create_model(name, **{**params, "epochs": epochs, "patience": epochs}).fit(fit)
    history = model.training_["history"][1:] or model.training_["history"]
    train_seconds = statistics.median(h["train_seconds"] for h in history)
    sequences = model.training_["training_sequences"]
    rank_targets(model, split.test, data.n_items, seq_len, device=device, batch_size=1024)
    _sync(device)
    start = time.perf_counter()
    rank_targets(model, split.test, data.n_items, seq_len, device=device, batch_size=1024)
    _sync(device)
    eval_seconds = time.perf_counter() - start
    return [
        name,
        model.params.loss,
        sequences,
        f"{sequences / train_seconds:,.0f}",
        f"{train_seconds:.2f}",
        f"{eval_seconds:.2f}",
    ]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--min-rating", type=float, default=4.0)
    parser.add_argument("--models", default="mlp,cnn,gru,sasrec")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--param", action="append", default=[], help="key=value for every model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = RunConfig().replace(
        dataset=args.dataset, min_rating=args.min_rating, seq_len=args.seq_len
    )
    data, split, _ = load_data(config.data)
    models = args.models.split(",")
    routed = route_params(models, args.param)  # typed and checked like benchmark.run's
    params = {m: model_config(m, routed[m]).params for m in models}
    rows = [
        bench_model(m, data, split, args.seq_len, args.epochs, args.device, dict(params[m]))
        for m in models
    ]
    device = device_label(args.device)
    print(
        f"{args.dataset} (min rating {args.min_rating}): {data.n_users} users, "
        f"{data.n_items} items; seq_len {args.seq_len}; device: {device}\n"
    )
    print(
        tabulate(
            rows,
            [
                "model",
                "loss",
                "training sequences",
                "sequences/s",
                "s/epoch",
                f"full-ranking eval s ({split.test.n_users} users)",
            ],
            tablefmt="github",
        )
    )


if __name__ == "__main__":
    main()
