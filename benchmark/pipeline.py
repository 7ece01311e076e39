"""`run_one(config) -> (record, ranks)`: data -> split -> candidates -> fit -> score -> metrics.

`fit_model` and `evaluate_model` are its two halves, so a fitted model can be evaluated again
(a popularity penalty α re-ranks the scores of a model that is already trained).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from benchmark import records
from benchmark.config import RunConfig
from benchmark.datasets import load_raw
from benchmark.registry import create_model
from protocols import metrics
from protocols.beyond_accuracy import summarise_lists
from protocols.data import fingerprint, item_popularity, to_implicit
from protocols.estimate import GAMMA, estimate_full
from protocols.evaluate import TIE_RULE, Ranks, rank_targets
from protocols.interface import Recommender
from protocols.negatives import draw_candidates
from protocols.popularity import HEAD_SHARE, short_head, standardised_log_popularity
from protocols.split import make_split
from protocols.types import FitData, Interactions, Split

log = logging.getLogger(__name__)
TOP_K = 20  # length of the stored full-ranking top lists


@functools.lru_cache(maxsize=2)
def load_split(config_key: tuple) -> tuple[Interactions, Split, dict]:
    """Interactions, split and fingerprint for a RunConfig.data_key(); cached per process."""
    dataset, sep, columns, min_rating, min_user, min_item, split, quantile, targets = config_key
    raw = load_raw(dataset, sep=sep, columns=columns, min_rating_hint=min_rating)
    data = to_implicit(raw, min_rating, min_user, min_item)
    return data, make_split(data, split, targets, quantile), fingerprint(data)


def cache_dir() -> Path:
    base = os.environ.get("SEQREC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "seqrec-bench"
    )
    return Path(base)


def sampled_candidates(config: RunConfig, data: Interactions, split: Split, fp: dict):
    """Negatives drawn once per (data, split, N, sampler, seed), stored and reused by every model."""
    key = [
        fp["sha256"],
        split.name,
        split.info,
        config.num_negatives,
        config.negative_sampler,
        config.seed,
    ]
    name = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    path = cache_dir() / "candidates" / f"{name}.npy"
    if path.exists():
        return np.load(path)
    negatives = draw_candidates(
        data, split, config.num_negatives, config.negative_sampler, config.seed
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, negatives)
    os.replace(tmp, path)
    return negatives


def prepare(config: RunConfig) -> tuple[Interactions, Split, dict, np.ndarray]:
    """Interactions, split, fingerprint and sampled negatives of a configuration."""
    data, split, fp = load_split(config.data_key())
    return data, split, fp, sampled_candidates(config, data, split, fp)


def make_fit_data(config: RunConfig, data: Interactions, split: Split) -> FitData:
    """What a model may learn from under this configuration (no test targets in it)."""
    return FitData(
        train=split.train,
        n_users=data.n_users,
        n_items=data.n_items,
        valid=split.valid,
        seq_len=config.seq_len,
        item_genres=data.item_genres,
        device=config.device,
        seed=config.seed,
    )


def fit_model(config: RunConfig, epoch_hooks: tuple = ()) -> tuple[Recommender, float]:
    """The model of `config`, fitted on its training data; and the seconds it took.

    `epoch_hooks` are set on models that train in epochs (`hook(model, entry)` after each
    epoch's validation; a search uses one to prune hopeless trials).
    """
    data, split, _ = load_split(config.data_key())  # fitting never sees the sampled negatives
    model = create_model(config.model, **dict(config.params))
    if epoch_hooks and hasattr(model, "epoch_hooks"):
        model.epoch_hooks = tuple(epoch_hooks)
    start = time.perf_counter()
    model.fit(make_fit_data(config, data, split))
    return model, time.perf_counter() - start


def evaluate_model(
    config: RunConfig,
    model: Recommender,
    fit_seconds: float,
    progress: bool = False,
    reused_from: str | None = None,
    parts: tuple[str, ...] = ("valid", "test"),
) -> tuple[dict, dict[str, np.ndarray]]:
    """Rank valid and test targets with a fitted model; the run record and per-user ranks.

    `parts=("valid",)` scores the validation targets only (a search's trials never see test).
    """
    data, split, fp, negatives = prepare(config)
    pop = item_popularity(split.train, data.n_items)
    pop_z = standardised_log_popularity(pop)
    start = time.perf_counter()
    results = {
        part: rank_targets(
            model,
            getattr(split, part),
            data.n_items,
            config.seq_len,
            negatives,
            config.eval_batch_size,
            config.device,
            max(TOP_K, *config.ks),
            progress,
            pop_z=pop_z,
            alpha=config.alpha,
        )
        for part in parts
    }
    eval_seconds = time.perf_counter() - start

    record = {
        "schema_version": records.SCHEMA_VERSION,
        "run_id": config.run_id(),
        "model": config.model,
        "params": dataclasses.asdict(model.params),
        "config": config.to_dict(),
        "dataset": {**fp, "stats": data.stats},
        "protocol": _protocol(config, split),
        "metrics": _metrics(results, config, pop),
        "timings": {
            "fit_seconds": fit_seconds,
            "eval_seconds": eval_seconds,
            "peak_rss_mb": _peak_rss_mb(),
            **_cuda_peak(config.device),
        },
        "device": device_info(config.device),
        "training": getattr(model, "training_", None),  # per-epoch history of trained models
        "reused_model_of": reused_from,  # run id whose fitted model was scored (α runs)
        "environment": records.environment(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return record, {**_flat_ranks(results), "item_popularity": pop}


def run_one(config: RunConfig, progress: bool = False) -> tuple[dict, dict[str, np.ndarray]]:
    """Fit one model under one configuration and evaluate it on valid and test."""
    model, fit_seconds = fit_model(config)
    return evaluate_model(config, model, fit_seconds, progress)


def _protocol(config: RunConfig, split: Split) -> dict:
    return {
        "split": split.name,
        "split_info": split.info,
        "seq_len": config.seq_len,
        "sampled": {
            "num_negatives": config.num_negatives,
            "sampler": config.negative_sampler,
            "seed": config.seed,
            "excludes": "every item the user interacted with",
        },
        "full": {"excludes": "padding and the user's input history (targets always kept)"},
        "ties": TIE_RULE,
        "ks": list(config.ks),
        "popularity_penalty": {
            "alpha": config.alpha,
            "rule": "per-user standardised scores - alpha * standardised log(1 + train pop)",
        },
        "short_head": f"most popular items making up {HEAD_SHARE:.0%} of training interactions",
        "estimated_full": f"Krichene-Rendle bias-variance correction, gamma={GAMMA}, uniform prior",
    }


def _metrics(results: dict[str, Ranks], config: RunConfig, pop: np.ndarray) -> dict:
    """metrics[protocol][split][name]; protocols: sampled, full and estimated_full (the full
    metrics estimated from the sampled ranks, single-target only)."""
    ks, head = config.ks, short_head(pop)
    out: dict = {"sampled": {}, "full": {}, "estimated_full": {}}
    for part, ranks in results.items():
        users = {"users": len(ranks.users)}
        out["full"][part] = {**metrics.summarise(ranks.full, ks), **users}
        if ranks.top_items is not None:
            out["full"][part].update(summarise_lists(ranks.top_items, ks, pop, head))
        if ranks.sampled is None:
            continue
        out["sampled"][part] = {**metrics.summarise(ranks.sampled, ks), **users}
        if ranks.sampled.shape[1] == 1 and len(ranks.users):
            estimates = estimate_full(
                ranks.sampled, ranks.full_candidates, config.num_negatives, ks
            )
            out["estimated_full"][part] = {
                **{name: float(v.mean()) for name, v in estimates.items()},
                **users,
            }
    return out


def _flat_ranks(results: dict[str, Ranks]) -> dict[str, np.ndarray]:
    flat = {}
    for part, r in results.items():
        flat[f"users.{part}"] = r.users
        flat[f"full.{part}"] = r.full
        flat[f"full_candidates.{part}"] = r.full_candidates
        if r.sampled is not None:
            flat[f"sampled.{part}"] = r.sampled
        if r.top_items is not None:
            flat[f"top_items.{part}"] = r.top_items
        flat[f"targets.{part}"] = r.targets
        flat[f"history_lengths.{part}"] = r.history_lengths
    return flat


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cuda_peak(device: str) -> dict:
    if not device.startswith("cuda"):
        return {}
    return {"cuda_peak_mb": torch.cuda.max_memory_allocated(device) / 2**20}


def device_label(device: str) -> str:
    """`NVIDIA H100 80GB HBM3` or `cpu, 2 threads`: for printed figures."""
    info = device_info(device)
    return info["name"] if "threads" not in info else f"cpu, {info['threads']} threads"


def device_info(device: str) -> dict:
    if device.startswith("cuda"):
        return {"device": device, "name": torch.cuda.get_device_name(device)}
    return {"device": device, "name": "cpu", "threads": torch.get_num_threads()}
