"""`run_one(config) -> (record, ranks)`: data -> split -> candidates -> fit -> score -> metrics.

`prepare` computes what a configuration's data side decides once (`Prepared`); `fit_model` and
`evaluate_model` take it, so a fitted model can be evaluated again (a re-ranker reorders the
scores of a model that is already trained) and nothing is loaded twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark import records
from benchmark.config import DataConfig, RunConfig
from benchmark.datasets import data_root, load_raw
from benchmark.datasets import negatives as negatives_file
from benchmark.models import create_model
from benchmark.records import RunRecord
from protocols import metrics
from protocols.beyond_accuracy import summarise_lists
from protocols.data import fingerprint, to_implicit
from protocols.errors import InputError
from protocols.estimate import GAMMA, estimate_full
from protocols.evaluate import TIE_RULE, Ranks, rank_targets
from protocols.interface import Recommender
from protocols.negatives import draw_candidates, fixed_candidates
from protocols.popularity import HEAD_SHARE, head_share, item_popularity, short_head
from protocols.rerank import LIST_LENGTH, RERANKERS, make_reranker
from protocols.split import make_split
from protocols.types import FitData, Interactions, Split

log = logging.getLogger(__name__)
TOP_K = 20  # length of the stored full-ranking top lists


@dataclass(frozen=True)
class Prepared:
    """The data side of a configuration: built once, passed into fit and evaluate."""

    data: Interactions
    split: Split
    fingerprint: dict  # name, sha256 and size of the interactions
    popularity: np.ndarray  # [n_items + 1] training interactions per item
    negatives: dict[
        str, np.ndarray
    ]  # part -> [n_users, N] sampled candidates, shared by every model


def load_data(config: DataConfig) -> tuple[Interactions, Split, dict]:
    """Interactions, split and fingerprint of a data configuration; a configuration that names
    a fingerprint gets that content or an error (the file changed after the run was planned)."""
    raw = load_raw(
        config.dataset, sep=config.sep, columns=config.columns, min_rating_hint=config.min_rating
    )
    data = to_implicit(
        raw,
        config.min_rating,
        config.min_user_interactions,
        config.min_item_interactions,
        config.repeats,
    )
    split = make_split(data, config.split, config.targets_per_user, config.temporal_quantile)
    found = fingerprint(data)
    if config.fingerprint and config.fingerprint != found["sha256"]:
        raise InputError(
            f"{config.dataset}: its content changed after the run was planned (fingerprint "
            f"{found['sha256']}, planned {config.fingerprint}); run the command again"
        )
    return data, split, found


def with_fingerprints(configs: list[RunConfig]) -> tuple[list[RunConfig], dict]:
    """Each configuration with its data's content hash (so a run is identified by what it ran
    on: a changed file is a new run, never a skipped one), and {DataConfig: load_data result}
    for the configurations returned. Each data configuration is loaded once."""
    loaded, out = {}, []
    for config in configs:
        plain = dataclasses.replace(config.data, fingerprint="")
        if plain not in loaded:
            loaded[plain] = load_data(plain)
        data = dataclasses.replace(plain, fingerprint=loaded[plain][2]["sha256"])
        out.append(dataclasses.replace(config, data=data))
    by_data = {dataclasses.replace(k, fingerprint=v[2]["sha256"]): v for k, v in loaded.items()}
    return out, by_data


def prepared_key(config: RunConfig) -> tuple:
    """Configurations with equal keys share one `Prepared` (model and α do not matter)."""
    p = config.protocol
    return (config.data, p.num_negatives, p.negative_sampler, p.negatives_sha256, config.seed)


def prepare(config: RunConfig, loaded: tuple | None = None) -> Prepared:
    """Data, split, fingerprint, popularity and sampled negatives of a configuration;
    `loaded` reuses a `load_data` result of the same data configuration."""
    data, split, fp = loaded or load_data(config.data)
    return Prepared(
        data,
        split,
        fp,
        item_popularity(split.train, data.n_items),
        sampled_candidates(config, data, split, fp),
    )


def cache_dir() -> Path:
    base = os.environ.get("SEQREC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "seqrec-bench"
    )
    return Path(base)


def sampled_candidates(
    config: RunConfig, data: Interactions, split: Split, fp: dict
) -> dict[str, np.ndarray]:
    """Negatives per split part ({"valid": [n_users, N], "test": ...}), drawn once per (data,
    split, repeats, N, sampler, seed), stored and reused by every model; or the fixed
    negatives of --negatives-file."""
    p = config.protocol
    if p.negatives_file is not None:
        return published_candidates(config, data, split)
    key = [
        "per-part-v2",  # version of the drawing rule: older stored candidates are never reused
        fp["sha256"],
        config.data.repeats,
        split.name,
        split.info,
        p.num_negatives,
        p.negative_sampler,
        config.seed,
    ]
    name = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    path = cache_dir() / "candidates" / f"{name}.npz"
    if path.exists():
        with np.load(path) as stored:
            return {part: stored[part] for part in ("valid", "test")}
    negatives = draw_candidates(
        data,
        split,
        p.num_negatives,
        p.negative_sampler,
        config.seed,
        exclude_history=excludes_history(config),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **negatives)
    os.replace(tmp, path)
    return negatives


def published_candidates(config: RunConfig, data: Interactions, split: Split) -> dict:
    """The negatives of --negatives-file, checked against the data, and against the content
    the run was planned with (`RunConfig.negatives_sha256`, part of the run id)."""
    p = config.protocol
    found = negatives_file.locate(p.negatives_file, config.data.dataset, data_root())
    if p.negatives_sha256 and found.sha256 != p.negatives_sha256:
        raise InputError(
            f"{found.path}: its content changed after the run was planned (sha256 "
            f"{found.sha256[:16]}, planned {p.negatives_sha256[:16]}); run the command again"
        )
    table = negatives_file.read_negatives(found.path)
    return fixed_candidates(data, split, table, str(found.path))


def excludes_history(config: RunConfig) -> bool:
    """Full ranking leaves out the input history under `--repeats first` (repeats dropped)."""
    return config.data.repeats == "first"


def make_fit_data(config: RunConfig, data: Interactions, split: Split) -> FitData:
    """What a model may learn from under this configuration (no test targets in it)."""
    return FitData(
        train=split.train,
        n_users=data.n_users,
        n_items=data.n_items,
        valid=split.valid,
        seq_len=config.protocol.seq_len,
        item_genres=data.item_genres,
        device=config.device,
        seed=config.seed,
        exclude_history=excludes_history(config),
    )


def fit_model(
    config: RunConfig, prepared: Prepared, epoch_hooks: tuple = ()
) -> tuple[Recommender, float]:
    """The model of `config`, fitted on its training data; and the seconds it took.

    `epoch_hooks` are set on models that train in epochs (`hook(model, entry)` after each
    epoch's validation; a search uses one to prune hopeless trials).
    """
    model = create_model(config.model.name, **dict(config.model.params))
    if epoch_hooks:
        model.set_epoch_hooks(tuple(epoch_hooks))
    start = time.perf_counter()
    model.fit(make_fit_data(config, prepared.data, prepared.split))  # never sees the negatives
    return model, time.perf_counter() - start


def evaluate_model(
    config: RunConfig,
    model: Recommender,
    prepared: Prepared,
    fit_seconds: float,
    progress: bool = False,
    reused_from: str | None = None,
    parts: tuple[str, ...] = ("valid", "test"),
) -> tuple[RunRecord, dict[str, np.ndarray]]:
    """Rank valid and test targets with a fitted model; the run record and per-user ranks.

    `parts=("valid",)` scores the validation targets only (a search's trials never see test).
    """
    data, split, pop = prepared.data, prepared.split, prepared.popularity
    start = time.perf_counter()
    results = {part: _rank(config, model, prepared, part, progress) for part in parts}
    eval_seconds = time.perf_counter() - start
    record = RunRecord(
        run_id=config.run_id(),
        model=config.model.name,
        config=config,
        is_baseline=model.is_baseline,
        display_order=model.display_order,
        uses_seq_len=model.uses_seq_len,
        dataset={**prepared.fingerprint, "stats": data.stats},
        protocol=_protocol(config, split),
        metrics=_metrics(results, config, pop),
        timings={
            "fit_seconds": fit_seconds,
            "eval_seconds": eval_seconds,
            "peak_rss_mb": _peak_rss_mb(),
            **_cuda_peak(config.device),
        },
        device=device_info(config.device),
        environment=records.environment(),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        training=model.training_,
        reused_model_of=reused_from,
    )
    shares = {  # the user view of the error analysis: who likes popular items
        f"head_share.{part}": head_share(getattr(split, part).inputs, short_head(pop))
        for part in parts
    }
    return record, {**_flat_ranks(results), **shares, "item_popularity": pop}


def check_rerank(config: RunConfig, prepared: Prepared) -> None:
    """InputError, before any model runs, when the re-ranker cannot fill every list here."""
    if config.protocol.rerank:
        reranker = make_reranker(config.protocol.rerank, prepared.popularity, config.seed)
        users = max(prepared.split.valid.n_users, prepared.split.test.n_users)
        reranker.check_feasible(users, prepared.data.n_items)


def _rank(config: RunConfig, model: Recommender, prepared: Prepared, part: str, progress: bool):
    p = config.protocol
    reranker = make_reranker(p.rerank, prepared.popularity, config.seed) if p.rerank else None
    return rank_targets(
        model,
        getattr(prepared.split, part),
        prepared.data.n_items,
        p.seq_len,
        prepared.negatives[part],
        batch_size=config.eval_batch_size,
        device=config.device,
        top_k=max(TOP_K, *p.ks),
        progress=progress,
        rerank=reranker,
        exclude_history=excludes_history(config),
    )


def run_one(config: RunConfig, progress: bool = False) -> tuple[RunRecord, dict[str, np.ndarray]]:
    """Fit one model under one configuration and evaluate it on valid and test."""
    prepared = prepare(config)
    model, fit_seconds = fit_model(config, prepared)
    return evaluate_model(config, model, prepared, fit_seconds, progress)


def _protocol(config: RunConfig, split: Split) -> dict:
    p = config.protocol
    return {
        "split": split.name,
        "split_info": split.info,
        "seq_len": p.seq_len,
        "repeats": config.data.repeats,
        "sampled": _sampled_text(config),
        "full": {"excludes": _excluded_text(config)},
        "ties": TIE_RULE,
        "ks": list(p.ks),
        "rerank": _rerank_text(config),
        "short_head": f"most popular items making up {HEAD_SHARE:.0%} of training interactions",
        "estimated_full": (
            f"Krichene-Rendle bias-variance correction, gamma={GAMMA}, uniform prior; "
            "one target per user and uniform negatives only"
        ),
    }


def _rerank_text(config: RunConfig) -> dict | None:
    if not config.protocol.rerank:
        return None
    name, _, value = config.protocol.rerank.partition("=")
    cls = RERANKERS.get(name)
    return {
        "name": name,
        cls.strength.symbol: float(value),
        "meaning": cls.strength.meaning,
        "rule": (cls.__doc__ or "").split("\n\n")[0].replace("\n", " ").strip(),
        "list_length": LIST_LENGTH if name != "pop-penalty" else None,
        "code": config.protocol.rerank_code,
    }


def _sampled_text(config: RunConfig) -> dict:
    p = config.protocol
    if p.negatives_file is not None:
        return {
            "num_negatives": p.num_negatives,
            "negatives_file": p.negatives_file,
            "negatives_sha256": p.negatives_sha256,
            "excludes": "fixed negatives per user, the same for valid and test, none in the "
            "user's history or targets",
        }
    return {
        "num_negatives": p.num_negatives,
        "sampler": p.negative_sampler,
        "seed": config.seed,
        "excludes": _excluded_text(config) + " and the part's targets",
    }


def _excluded_text(config: RunConfig) -> str:
    if excludes_history(config):
        return "padding and the user's input history of the split part"
    return "padding only (--repeats keep: history items stay candidates)"


def _metrics(results: dict[str, Ranks], config: RunConfig, pop: np.ndarray) -> dict:
    """metrics[protocol][split][name]; protocols: sampled, full and estimated_full (the full
    metrics estimated from the sampled ranks: single target and uniform negatives only, the
    sampling the estimator's hypergeometric model assumes)."""
    ks, head = config.protocol.ks, short_head(pop)
    out: dict = {"sampled": {}, "full": {}, "estimated_full": {}}
    for part, ranks in results.items():
        users = {"users": len(ranks.users)}
        out["full"][part] = {**metrics.summarise(ranks.full, ks), **users}
        if ranks.top_items is not None:
            out["full"][part].update(summarise_lists(ranks.top_items, ks, pop, head))
        if ranks.sampled is None:
            continue
        out["sampled"][part] = {**metrics.summarise(ranks.sampled, ks), **users}
        if ranks.sampled_top_items is not None:  # the lists inside each user's sampled candidates
            out["sampled"][part].update(summarise_lists(ranks.sampled_top_items, ks, pop, head))
        uniform = config.protocol.negative_sampler == "uniform"
        if uniform and ranks.sampled.shape[1] == 1 and len(ranks.users):
            estimates = estimate_full(
                ranks.sampled,
                ranks.full_candidates,
                config.protocol.num_negatives,
                ks,
                store=str(cache_dir() / "estimates"),
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
        if r.sampled_top_items is not None:
            flat[f"sampled_top_items.{part}"] = r.sampled_top_items
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
