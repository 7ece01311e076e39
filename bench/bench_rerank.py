"""Seconds of each re-ranker beside the evaluation's own: valid and test users of a data set
ranked under both protocols by one fitted model, without and with each re-ranker.

    PYTHONPATH=. python bench/bench_rerank.py                      # ML-1M (ratings >= 4), mf-als
    PYTHONPATH=. python bench/bench_rerank.py --dataset s3rec-beauty --model pop

The model is fitted once (its fit is not timed); each row is the best of `--repeats` passes
over both evaluation sets, so the re-ranker's share is what the row adds to the first.
"""

from __future__ import annotations

import argparse
import time

from tabulate import tabulate

from benchmark.config import RunConfig
from benchmark.pipeline import TOP_K, device_label, fit_model, prepare, with_fingerprints
from protocols.evaluate import rank_targets
from protocols.rerank import make_reranker

SPECS = (
    "",
    "pop-penalty=0.5",
    "calibrated=0.5",
    "xquad=0.5",
    "exposure-cap=30",
    "coverage-fill=2",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--min-rating", type=float, default=None)
    parser.add_argument("--model", default="mf-als")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    min_rating = 4.0 if args.dataset == "ml-1m" and args.min_rating is None else args.min_rating
    from benchmark.models import model_config

    config = RunConfig(model=model_config(args.model, {})).replace(
        dataset=args.dataset, min_rating=min_rating
    )
    (config,), loaded = with_fingerprints([config.validate()])
    prepared = prepare(config, loaded[config.data])
    model, _ = fit_model(config, prepared)
    data, split = prepared.data, prepared.split
    rows, plain = [], None
    for spec in SPECS:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            for part in ("valid", "test"):
                rerank = make_reranker(spec, prepared.popularity, 0) if spec else None
                rank_targets(
                    model,
                    getattr(split, part),
                    data.n_items,
                    config.protocol.seq_len,
                    prepared.negatives[part],
                    top_k=TOP_K,
                    rerank=rerank,
                )
            best = min(best, time.perf_counter() - start)
        plain = plain or best
        rows.append([spec or "none", f"{best:.2f}", f"{best - plain:+.2f}", f"{best / plain:.2f}"])
    users = split.valid.n_users + split.test.n_users
    print(
        f"{args.dataset} ({data.n_users} users, {data.n_items} items), {args.model}, "
        f"{users} valid + test users ranked, {device_label('cpu')}:"
    )
    print(tabulate(rows, ["re-ranker", "seconds", "added", "x plain"], tablefmt="github"))


if __name__ == "__main__":
    main()
