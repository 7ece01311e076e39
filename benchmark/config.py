"""The run configuration: frozen dataclasses for the data, the protocol and the model, nested in
`RunConfig`. Each option is declared once, as a field with its help text; the command-line flags
(`benchmark.experiment`) and experiment files are generated from these fields.

Light on purpose (no torch, no model): `benchmark.report` reads records through it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from protocols.errors import InputError

FILE_SAMPLER = "file"  # the sampled candidates come from --negatives-file
PENALTY = "pop-penalty"  # the re-ranker `--alpha` names


def option(default: Any, help: str, choices: tuple | None = None, cli: bool = True) -> Any:
    """A configuration field; `help` becomes the flag's help, `cli=False` keeps it off the
    command line (still in the record and the run id)."""
    return field(default=default, metadata={"help": help, "choices": choices, "cli": cli})


@dataclass(frozen=True)
class DataConfig:
    """What decides the interactions and the split."""

    dataset: str = option(
        "ml-1m",
        "a registered name (python -m benchmark.datasets list), csv:PATH, seq:PATH, pairs:PATH, "
        "atomic:PATH or synthetic[:n_users=..,n_items=..]",
    )
    sep: str | None = option(None, "separator of a csv: file (default ',')")
    columns: str | None = option(
        None,
        "csv: columns in order (user,item,rating,timestamp) or header renames "
        "(user=UserID,item=MovieID,timestamp=ts)",
    )
    min_rating: float | None = option(None, "keep only ratings >= R (default: every rating)")
    min_user_interactions: int = option(0, "k-core: users need at least this many events")
    min_item_interactions: int = option(0, "k-core: items need at least this many events")
    repeats: str = option(
        "first",
        "repeated (user, item) events: first keeps each pair's first event (the task is the "
        "next new item); keep keeps them and excludes no history item from the candidates",
        choices=("first", "keep"),
    )
    split: str = option("loo", "leave-one-out or global temporal", choices=("loo", "temporal"))
    temporal_quantile: float = option(0.8, "temporal split cut-off, as a quantile of timestamps")
    targets_per_user: int = option(1, "held-out items per user in valid and in test")
    # What the run ran on: the content hash of the interactions after preprocessing, filled in
    # when the data is loaded (`pipeline.with_fingerprints`), so that it is part of the run id.
    fingerprint: str = option("", "content hash of the interactions (set when loaded)", cli=False)


@dataclass(frozen=True)
class ProtocolConfig:
    """How the held-out items are ranked and scored."""

    seq_len: int = option(50, "input sequence length seen by the models")
    num_negatives: int = option(100, "sampled protocol: negatives per user")
    negative_sampler: str = option("uniform", "sampled protocol: uniform or popularity")
    ks: tuple[int, ...] = option((5, 10, 20), "metric cut-offs")
    rerank: str = option(
        "",
        "re-rank each user's list as NAME=STRENGTH (pop-penalty, calibrated, xquad, "
        "exposure-cap, coverage-fill; docs/debiasing.md); the model is fitted without it",
    )
    rerank_code: str = option(
        "", "hash of the re-ranker's code (set when --rerank is given)", cli=False
    )
    ties: str = option("pessimistic", "ties count against the target", cli=False)
    negatives_file: str | None = option(
        None,
        "sampled protocol: rank each target against the fixed negatives of this file "
        "('uid neg1 ... negN' per line, the same for valid and test), or 'published' for the "
        "data set's own (s3rec-lastfm); replaces --num-negatives and --negative-sampler",
    )
    negatives_sha256: str = option(
        "", "content hash of --negatives-file (set when read)", cli=False
    )

    @property
    def reranker(self) -> tuple[str, float]:
        """(re-ranker, strength) of a validated `rerank`; ("", 0.0) for a plain run."""
        name, _, value = self.rerank.partition("=")
        return name, float(value or 0)

    @property
    def alpha(self) -> float:
        """The popularity penalty's α (`--alpha A` is `--rerank pop-penalty=A`); 0 otherwise."""
        name, value = self.reranker
        return value if name == PENALTY else 0.0


@dataclass(frozen=True)
class ModelConfig:
    """A model with every parameter resolved (defaults included) and its code fingerprint."""

    name: str = "pop"
    params: tuple[tuple[str, Any], ...] = ()  # every Params field, sorted by name
    changed: tuple[str, ...] = ()  # the parameters that differ from the model's defaults
    code: str = ""  # package version + hash of the model's module sources (benchmark.models)


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers, plus where it runs (not in the run id)."""

    data: DataConfig = DataConfig()
    protocol: ProtocolConfig = ProtocolConfig()
    model: ModelConfig = ModelConfig()
    seed: int = option(0, "seed of the sampled candidates and of training")
    device: str = option(
        "cpu", "auto, cpu, cuda or cuda:N (auto: cuda if present; the command line's default)"
    )
    eval_batch_size: int = option(512, "users per scoring batch")

    def validate(self) -> RunConfig:
        p, d = self.protocol, self.data
        if p.seq_len < 1:
            raise InputError(f"--seq-len must be >= 1, got {p.seq_len}")
        if p.num_negatives < 1:
            raise InputError(f"--num-negatives must be >= 1, got {p.num_negatives}")
        if not p.ks or min(p.ks) < 1:
            raise InputError(f"--ks must be positive integers, got {p.ks}")
        if max(p.ks) > p.num_negatives + d.targets_per_user:
            raise InputError(
                f"K = {max(p.ks)} is larger than the sampled candidate list "
                f"({p.num_negatives} negatives + {d.targets_per_user} target(s))"
            )
        from protocols.data import REPEATS  # imports torch: only when building runs
        from protocols.negatives import SAMPLERS

        if d.repeats not in REPEATS:
            raise InputError(f"unknown --repeats {d.repeats!r}; known: {', '.join(REPEATS)}")
        if d.repeats == "keep" and d.targets_per_user > 1:
            raise InputError(
                "--repeats keep needs --targets-per-user 1 (several held-out events may repeat "
                "one item, which would then count as several relevant items)"
            )
        if p.negatives_file is not None and p.negative_sampler != FILE_SAMPLER:
            raise InputError("--negatives-file fixes the candidates: drop --negative-sampler")
        if p.negative_sampler == FILE_SAMPLER and p.negatives_file is None:
            raise InputError(f"--negative-sampler {FILE_SAMPLER} needs --negatives-file")
        if p.negative_sampler not in (*SAMPLERS, FILE_SAMPLER):
            raise InputError(
                f"unknown --negative-sampler {p.negative_sampler!r}; known: {', '.join(SAMPLERS)}"
            )
        if d.split not in ("loo", "temporal"):
            raise InputError(f"--split must be loo or temporal, got {d.split!r}")
        if p.ties != "pessimistic":
            raise InputError(f"the only tie rule is pessimistic, got {p.ties!r}")
        if self.eval_batch_size < 1:
            raise InputError("--eval-batch-size must be >= 1")
        return self.with_rerank_code()

    def with_rerank_code(self) -> RunConfig:
        """The re-ranker spelled one way, with its code's hash (part of the run id); plain
        runs carry neither."""
        from protocols import rerank

        spec = rerank.canonical(self.protocol.rerank)
        code = rerank.code_fingerprint(spec) if spec else ""
        return dataclasses.replace(
            self, protocol=dataclasses.replace(self.protocol, rerank=spec, rerank_code=code)
        )

    def replace(self, **options: Any) -> RunConfig:
        """A copy with flat options changed: `config.replace(rerank="xquad=0.5", seed=1)`;
        `alpha=A` is `rerank="pop-penalty=A"`."""
        parts = split_options(options)
        return dataclasses.replace(
            self,
            data=dataclasses.replace(self.data, **parts["data"]),
            protocol=dataclasses.replace(self.protocol, **parts["protocol"]),
            **parts["run"],
        )

    def trained_by(self) -> RunConfig:
        """The run whose fitted model this one scores: a re-ranker never retrains."""
        return self.replace(rerank="", rerank_code="")

    def run_id(self) -> str:
        """Model name plus a hash of everything that decides the numbers (resolved parameters
        and code fingerprint included; not the device or the scoring batch size)."""
        blob = json.dumps(self.to_dict(identity=True), sort_keys=True, default=str)
        return f"{self.model.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    def to_dict(self, identity: bool = False) -> dict:
        out = dataclasses.asdict(self)
        out["protocol"]["ks"] = list(self.protocol.ks)
        out["model"]["params"] = dict(self.model.params)
        out["model"]["changed"] = list(self.model.changed)
        if identity:
            del out["device"], out["eval_batch_size"]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """The inverse of `to_dict` (lists back to tuples)."""
        m = d["model"]
        model = ModelConfig(m["name"], _tuples(m["params"]), tuple(m["changed"]), m["code"])
        protocol = {k: _tuple(v) for k, v in d["protocol"].items()}
        alpha = protocol.pop("alpha", 0.0)  # records before re-rankers: the penalty's own field
        if alpha:
            protocol["rerank"] = f"{PENALTY}={alpha:g}"
        return cls(
            data=DataConfig(**d["data"]),
            protocol=ProtocolConfig(**protocol),
            model=model,
            seed=d["seed"],
            device=d["device"],
            eval_batch_size=d["eval_batch_size"],
        )


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _tuples(params: dict) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _tuple(v)) for k, v in params.items()))


SECTIONS: dict[str, type] = {"data": DataConfig, "protocol": ProtocolConfig, "run": RunConfig}


def option_fields() -> dict[str, tuple[str, dataclasses.Field]]:
    """{option name: (section, field)} for every flat option (data, protocol and run fields)."""
    out = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.metadata:  # the nested sections themselves carry no metadata
                out[f.name] = (section, f)
    return out


def split_options(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Flat `{"min_rating": 4, "alpha": 0.5}` -> {"data": {...}, "protocol": {...}, "run": {...}}."""
    known = option_fields()
    parts: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    if "alpha" in options:  # the popularity penalty's own flag
        options = dict(options)
        alpha = read_value(options.pop("alpha"), float, "--alpha")
        if "rerank" in options and alpha:
            raise InputError("--alpha is --rerank pop-penalty=ALPHA: give one of the two")
        options.setdefault("rerank", f"{PENALTY}={alpha:g}" if alpha else "")
    for name, value in options.items():
        if name not in known:
            raise InputError(f"unknown option {name!r}; known: {', '.join(sorted(known))}")
        section, f = known[name]
        parts[section][name] = read_value(value, field_type(section, name), f"--{flag(name)}")
    if "ks" in parts["protocol"]:
        parts["protocol"]["ks"] = tuple(sorted(set(parts["protocol"]["ks"])))
    return parts


def flag(name: str) -> str:
    return name.replace("_", "-")


def field_type(section: str, name: str) -> Any:
    return typing.get_type_hints(SECTIONS[section])[name]


def read_value(value: Any, kind: Any, what: str) -> Any:
    """A typed value as is; a string (command line, `--param`) read as the field's type: bool,
    int, float, str, a tuple such as `tuple[int, ...]` written `1,2,4`, or an Optional of one."""
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool) and float in _options(kind):
            return float(value)
        return value
    return _convert(value, kind, what)


def _options(kind: Any) -> list:
    return [k for k in typing.get_args(kind) if k is not type(None)] or [kind]


def _convert(text: str, kind: Any, what: str) -> Any:
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0] if typing.get_args(kind) else str
        return tuple(_convert(part.strip(), item, what) for part in text.split(",") if part)
    if text.lower() == "none" and type(None) in typing.get_args(kind):
        return None
    for k in _options(kind):
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
