"""Evaluation and training seconds, each against its floor timed in the same run.

    python bench/bench_speed.py --dataset synthetic:n_users=22363,n_items=12101,mean_length=9,min_length=5
    python bench/bench_speed.py --dataset ml-1m --min-rating 4
    python bench/bench_speed.py --dataset s3rec-beauty --eval-models mf-als --param factors=238 --train-models ""

Evaluation: valid and test users ranked under both protocols (full with a top list, sampled
with the run's negatives) plus the sampled-to-full estimate: once solving its corrections, then
reading them from a store on disk (as a new process finds them) and with them cached in the
process (as every later model does; best of two each), and cached once more without the top
lists (the ranks every accuracy metric reads; coverage needs the lists). The floor (best of
two) is counting, for every target, the scores at or above it in a precomputed score matrix,
with numpy (on a CPU about twice as fast as torch's compare and sum). Validation as the
trainer runs it after every epoch (validation users, full ranking, no top list, no negatives)
has its own floor, the same count over the validation users. Training: the fastest of
`--epochs` epochs (validation apart) per model and loss; the floor (best of two) is the full
softmax, forward and backward, over as many target positions as an epoch has, in batches of
the same size. Best-of timings, because other tenants of a shared machine only ever add time.
Ratios to floors timed in the same process hold on a shared machine; seconds do not.
`--param [model:]key=value` (repeatable) sets an evaluated model's parameter, as `benchmark.run`'s.
`SEQREC_MALLOC=system` runs it with glibc's default allocation thresholds (see `seqmodels/memory.py`).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from tabulate import tabulate

from benchmark.config import RunConfig
from benchmark.experiment import route_params
from benchmark.models import create_model, get_model_class, list_models, model_config
from benchmark.pipeline import device_label, make_fit_data, prepare
from protocols.estimate import cached_correction, estimate_full
from protocols.evaluate import rank_targets
from protocols.sequences import last_items, training_windows
from protocols.types import UserBatch
from seqmodels.memory import reuse_freed_memory


def time_evaluation(model, split, n_items, seq_len, negatives, ks, mode: str, store) -> float:
    """mode: cold (the estimate's corrections solved), stored (read from `store`, as a new
    process of a run finds them), cached (in this process, as every later model) or ranks
    (cached, without the top lists that coverage and long-tail figures read)."""
    if mode not in ("cached", "ranks"):
        cached_correction.cache_clear()
    top_k = 0 if mode == "ranks" else max(ks)
    start = time.perf_counter()
    for name in ("valid", "test"):
        part, negs = getattr(split, name), negatives[name]
        ranks = rank_targets(model, part, n_items, seq_len, negs, top_k=top_k)
        where = store if mode == "stored" else None
        estimate_full(ranks.sampled, ranks.full_candidates, negs.shape[1], ks, store=where)
    return time.perf_counter() - start


def time_validation(model, split, n_items, seq_len) -> float:
    """Seconds of the trainer's per-epoch validation ranking (seqmodels.train._validate)."""
    start = time.perf_counter()
    rank_targets(model, split.valid, n_items, seq_len, None, batch_size=1024)
    return time.perf_counter() - start


def counting_floor(model, parts, n_items, seq_len, batch_size=512) -> float:
    """Seconds to count the scores at or above each target's, scores computed untimed."""
    seconds = 0.0
    hits = np.empty((batch_size, n_items + 1), dtype=np.bool_)
    for part in parts:
        sequences = torch.from_numpy(last_items(part.inputs, seq_len))
        history = part.inputs.to_csr(n_items + 1)
        for start in range(0, part.n_users, batch_size):
            rows = slice(start, start + batch_size)
            scores = model.score(UserBatch(part.users[rows], sequences[rows], history[rows]))
            targets = torch.as_tensor(part.targets[rows])
            begin = time.perf_counter()
            s = scores.numpy()  # the count protocols.evaluate runs on a CPU
            t = np.take_along_axis(s, targets.numpy(), axis=1)
            hit = np.greater_equal(s, t, out=hits[: len(s)])
            hit.view(np.uint8).sum(axis=1, dtype=np.uint32).astype(np.int64)
            seconds += time.perf_counter() - begin
    return seconds


def softmax_floor(positions: int, batches: int, n_items: int, dim: int) -> float:
    """Seconds of the full-softmax forward and backward over `positions` states."""
    items = torch.randn(n_items + 1, dim, requires_grad=True)
    per_batch = -(-positions // batches)
    start = time.perf_counter()
    for done in range(0, positions, per_batch):
        m = min(per_batch, positions - done)
        states = torch.randn(m, dim, requires_grad=True)
        targets = torch.randint(1, n_items + 1, (m,))
        F.cross_entropy(states @ items.T, targets).backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    a = parser.add_argument
    a("--dataset", default="synthetic:n_users=22363,n_items=12101,mean_length=9,min_length=5")
    a("--min-rating", type=float, default=None)
    a("--eval-models", default="pop,itemknn,sasrec")
    a("--train-models", default="gru,sasrec", help="names, or deep: every sequence model")
    a("--losses", default="ce,sampled-ce", help="names, or own: each model's default loss")
    a("--epochs", type=int, default=3)
    a("--seq-len", type=int, default=50)
    a("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    a("--param", action="append", default=[], help="[model:]key=value of the evaluated models")
    args = parser.parse_args()
    evaluated = list(filter(None, args.eval_models.split(",")))
    routed = route_params(evaluated, args.param)
    if args.threads:
        torch.set_num_threads(args.threads)  # as `--jobs N` gives each of N processes cores/N
    logging.basicConfig(level=logging.WARNING)
    reused = reuse_freed_memory()  # before any timing: models and floors share the allocator
    config = RunConfig().replace(
        dataset=args.dataset, min_rating=args.min_rating, seq_len=args.seq_len
    )
    prepared = prepare(config)
    data, split, negatives = prepared.data, prepared.split, prepared.negatives
    fit = make_fit_data(config, data, split)
    print(
        f"{args.dataset} (min rating {args.min_rating}): {data.n_users} users, {data.n_items} "
        f"items, {data.n_interactions} interactions; {torch.get_num_threads()} torch threads; "
        f"{device_label('cpu')}; freed memory reused: {reused} (SEQREC_MALLOC=system: off)\n"
    )
    rows = []
    for name in evaluated:
        one_epoch = {"epochs": "1"} if name in ("sasrec", "gru") else {}
        model = create_model(name, **dict(model_config(name, one_epoch | routed[name]).params))
        begin = time.perf_counter()
        model.fit(fit)
        fit_seconds = time.perf_counter() - begin
        with tempfile.TemporaryDirectory() as store:
            timed = [
                min(
                    time_evaluation(
                        model,
                        split,
                        data.n_items,
                        args.seq_len,
                        negatives,
                        config.protocol.ks,
                        mode,
                        store,
                    )
                    for _ in range(repeats)
                )
                for mode, repeats in (("cold", 1), ("stored", 3), ("cached", 2), ("ranks", 2))
            ]  # the first "stored" pass writes the store
        both = split.valid, split.test
        floor = min(counting_floor(model, both, data.n_items, args.seq_len) for _ in range(2))
        valid = min(time_validation(model, split, data.n_items, args.seq_len) for _ in range(2))
        valid_floor = min(
            counting_floor(model, (split.valid,), data.n_items, args.seq_len) for _ in range(2)
        )
        label = " ".join([name, *(f"{k}={v}" for k, v in routed[name].items())])
        rows.append([label, f"{fit_seconds:.2f}", *(f"{t:.2f}" for t in timed), f"{floor:.2f}"])
        rows[-1] += [f"{t / floor:.2f}" for t in timed]
        rows[-1] += [f"{valid:.2f}", f"{valid_floor:.2f}", f"{valid / valid_floor:.2f}"]
    users = split.valid.n_users + split.test.n_users
    heads = [
        "model",
        "fit s (one epoch for sasrec, gru)",
        f"eval s, estimate solved ({users} users)",
        "estimate stored",
        "estimate cached",
        "no top lists",
        "counting floor s",
        "ratio solved",
        "ratio stored",
        "ratio cached",
        "ratio, no top lists",
        f"validation s ({split.valid.n_users} users)",
        "its floor s",
        "ratio",
    ]
    print(tabulate(rows, heads, tablefmt="github"), "\n")
    print(tabulate(train_rows(args, fit, data), TRAIN_HEADS, tablefmt="github"))


TRAIN_HEADS = [
    "model",
    "loss",
    "s/epoch",
    "valid s",
    "softmax floor s",
    "ratio",
    "x faster than ce",
]


def train_rows(args, fit, data) -> list[list]:
    inputs, targets = training_windows(fit.train, args.seq_len)
    positions = int((targets != 0).sum())
    rows = []
    names = args.train_models.split(",")
    if names == ["deep"]:
        names = [n for n in list_models() if get_model_class(n).uses_seq_len]
    for name in filter(None, names):  # --train-models "": none
        ce_seconds = None
        for loss in args.losses.split(","):
            own = get_model_class(name).Params.loss
            loss = own if loss == "own" else loss
            model = create_model(name, epochs=args.epochs, patience=args.epochs, loss=loss)
            history = model.fit(fit).training_["history"]
            seconds = min(h["train_seconds"] for h in history)
            valid = min(h["valid_seconds"] for h in history)
            batches = -(-len(inputs) // model.params.batch_size)
            dim = model.params.emb_dim
            floor = min(softmax_floor(positions, batches, data.n_items, dim) for _ in range(2))
            ce_seconds = seconds if loss == "ce" else ce_seconds
            speedup = f"{ce_seconds / seconds:.1f}" if ce_seconds else ""
            rows.append(
                [
                    name,
                    loss,
                    f"{seconds:.1f}",
                    f"{valid:.1f}",
                    f"{floor:.1f}",
                    f"{seconds / floor:.2f}",
                    speedup,
                ]
            )
    return rows


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
