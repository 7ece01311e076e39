"""The run configuration: one frozen dataclass; command-line flags map one-to-one onto its fields."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass

from protocols.data import REPEATS
from protocols.errors import InputError
from protocols.negatives import SAMPLERS


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers: data, protocol, model and seed."""

    dataset: str = "ml-1m"  # a registered name, csv:PATH or synthetic[:key=value,...]
    sep: str | None = None  # separator of a csv: file (default ",")
    columns: str | None = None  # csv: column names in order, or FIELD=COLUMN renames
    min_rating: float | None = None  # keep ratings >= this (default: every rating is a watch)
    min_user_interactions: int = 0  # k-core: users need at least this many events
    min_item_interactions: int = 0  # k-core: items need at least this many events
    repeats: str = "first"  # repeated (user, item) events: first (drop repeats) or keep
    split: str = "loo"  # loo (leave-one-out) or temporal
    temporal_quantile: float = 0.8  # temporal split cut-off, as a quantile of all timestamps
    targets_per_user: int = 1  # held-out items per user in each of valid and test
    seq_len: int = 50  # input sequence length seen by the models
    num_negatives: int = 100  # sampled protocol: negatives per target
    negative_sampler: str = "uniform"  # uniform or popularity
    ks: tuple[int, ...] = (5, 10, 20)  # metric cut-offs
    alpha: float = 0.0  # popularity penalty applied to the scores before ranking (0 = none)
    seed: int = 0
    model: str = "pop"
    params: tuple[tuple[str, typing.Any], ...] = ()  # model hyper-parameters, sorted by name
    device: str = "cpu"  # a concrete device (the command line resolves "auto")
    eval_batch_size: int = 512

    def validate(self) -> RunConfig:
        if self.seq_len < 1:
            raise InputError(f"--seq-len must be >= 1, got {self.seq_len}")
        if self.num_negatives < 1:
            raise InputError(f"--num-negatives must be >= 1, got {self.num_negatives}")
        if not self.ks or min(self.ks) < 1:
            raise InputError(f"--ks must be positive integers, got {self.ks}")
        if max(self.ks) > self.num_negatives + self.targets_per_user:
            raise InputError(
                f"K = {max(self.ks)} is larger than the sampled candidate list "
                f"({self.num_negatives} negatives + {self.targets_per_user} target(s))"
            )
        if self.repeats not in REPEATS:
            raise InputError(f"unknown --repeats {self.repeats!r}; known: {', '.join(REPEATS)}")
        if self.negative_sampler not in SAMPLERS:
            raise InputError(
                f"unknown --negative-sampler {self.negative_sampler!r}; "
                f"known: {', '.join(SAMPLERS)}"
            )
        if not 0 <= self.alpha < float("inf"):
            raise InputError(f"--alpha must be a finite number >= 0, got {self.alpha}")
        if self.eval_batch_size < 1:
            raise InputError("--eval-batch-size must be >= 1")
        return self

    def data_key(self) -> tuple:
        """The fields that decide the interactions and the split (a cache key)."""
        return (
            self.dataset,
            self.sep,
            self.columns,
            self.min_rating,
            self.min_user_interactions,
            self.min_item_interactions,
            self.repeats,
            self.split,
            self.temporal_quantile,
            self.targets_per_user,
        )

    def trained_by(self) -> RunConfig:
        """The run whose fitted model this one scores: α only re-ranks, it never retrains."""
        return dataclasses.replace(self, alpha=0.0)

    def run_id(self) -> str:
        """A short name for the record file: model plus a hash of every other field."""
        blob = json.dumps(self.to_dict(exclude=("device",)), sort_keys=True, default=str)
        return f"{self.model}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    def to_dict(self, exclude: tuple[str, ...] = ()) -> dict:
        out = dataclasses.asdict(self)
        out["params"] = dict(self.params)
        out["ks"] = list(self.ks)
        return {k: v for k, v in out.items() if k not in exclude}


def parse_params(
    model: str,
    pairs: list[str],
    fields: dict[str, dataclasses.Field],
    type_hints: dict[str, typing.Any],
) -> tuple[tuple[str, typing.Any], ...]:
    """`["hidden=64", "dropout=0.2"]` -> (("dropout", 0.2), ("hidden", 64)), checked and typed."""
    parsed = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq:
            raise InputError(f"--param expects key=value, got {pair!r}")
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise InputError(f"model {model!r} has no parameter {key!r}; its parameters: {known}")
        parsed[key] = _convert(text, type_hints.get(key, str), f"{model} parameter {key}")
    return tuple(sorted(parsed.items()))


def _convert(text: str, kind: typing.Any, what: str) -> typing.Any:
    """Read a command-line value as the dataclass field's type (bool, int, float, str, a tuple
    such as `tuple[int, ...]` written `1,2,4`, or an Optional of one of these)."""
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0] if typing.get_args(kind) else str
        return tuple(_convert(part.strip(), item, what) for part in text.split(",") if part)
    options = [k for k in typing.get_args(kind) if k is not type(None)] or [kind]
    if text.lower() == "none" and type(None) in typing.get_args(kind):
        return None
    for k in options:
        try:
            return _read_bool(text) if k is bool else k(text)
        except (TypeError, ValueError):
            continue
    raise InputError(f"{what}: cannot read {text!r} as {kind}")


def _read_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(text)
