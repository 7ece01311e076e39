"""Self-describing run records: one JSON file per run (plus per-user ranks), written atomically."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config import RunConfig
from protocols.errors import InputError

# 2: beyond-accuracy metrics, estimated_full, alpha, targets in the ranks;
# 3: nested config (data, protocol, model with resolved parameters and code fingerprint);
# 4: one typed record (model declarations as fields, no duplicated params or code)
SCHEMA_VERSION = 4
FILE_MODE = 0o644  # results are shared with the group, like any file a user writes
PACKAGES = ("seqrec-bench", "torch", "numpy", "pandas", "scipy", "implicit")
# This process, in provenance.json: one command that wrote records in several steps
PROCESS = f"{platform.node()}:{os.getpid()}:{time.time():.0f}"


def record_path(out_dir: str | Path, run_id: str) -> Path:
    return Path(out_dir) / "runs" / f"{run_id}.json"


def ranks_path(json_path: Path) -> Path:
    return json_path.with_suffix(".ranks.npz")


def model_path(json_path: Path) -> Path:
    """The fitted model beside a record (tensors and plain values, read with `weights_only`;
    machine-local, never committed)."""
    return Path(json_path).with_suffix(".model.pt")


def write_model(path: Path, blob: bytes) -> None:
    """A fitted model's state (`benchmark.executors.model_to_bytes`), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: f.write(blob))


def environment() -> dict:
    """Versions, git commit and machine, for the record."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "packages": versions,
        "git_commit": code_commit(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu": cpu_label(),
    }


@functools.cache
def cpu_label() -> str:
    """The processor and the vector kernels torch picks on it (AVX2, AVX512...): the same code
    at the same seed may train differently on another processor, its sums rounded otherwise."""
    import torch

    name = platform.processor() or "unknown processor"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        name = names[0] if names else name
    return f"{name}, torch {torch.backends.cpu.get_cpu_capability()}"


# What "-dirty" looks at: the code and the package definition, not the results it writes.
CODE_PATHS = ("benchmark", "baselines", "seqmodels", "protocols", "pyproject.toml")


@functools.cache
def code_commit() -> str | None:
    """HEAD, with "-dirty" when the code differs from it (a committed results folder being
    rewritten does not count: its records do not change the numbers). Read once per process,
    at the first call, which `executors.execute` makes before any model runs: a commit made
    while a long run goes on is not credited with the records of code loaded before it."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            cwd=here.parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


PROVENANCE = "provenance.json"


def invocation() -> str:
    """The command line that started this process, as typed (`python -m benchmark.run ...`)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        program = f"python -m {spec.name.removesuffix('.__main__')}"
    else:
        program = Path(sys.argv[0]).name or "python"
    return " ".join([program, shlex.join(sys.argv[1:])]).strip()


def add_provenance(
    out: str | Path, run_ids: list[str], start: float, device: str, finished: bool
) -> None:
    """Append to OUT/provenance.json one entry for the runs this process wrote: the command, the
    git commit, the device (in words, `pipeline.device_label`), the date, the wall time and the
    package versions."""
    entries = read_provenance(out)
    env = environment()
    entries.append(
        {
            "command": invocation(),
            "process": PROCESS,
            "commit": env["git_commit"],
            "device": device,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(start)),
            "wall_seconds": round(time.time() - start, 1),
            "finished": finished,  # False: interrupted, the other runs were not written
            "runs": run_ids,
            "python": env["python"],
            "packages": env["packages"],
            "platform": env["platform"],
            "cpu_count": env["cpu_count"],
            "cpu": env["cpu"],
        }
    )
    write_text(Path(out) / PROVENANCE, json.dumps(entries, indent=2) + "\n")


def read_provenance(out: str | Path) -> list[dict]:
    path = Path(out) / PROVENANCE
    return json.loads(path.read_text()) if path.exists() else []


def write_record(path: Path, record: RunRecord, ranks: dict[str, np.ndarray]) -> RunRecord:
    """Ranks first, then the JSON: a record file exists only when the whole run is on disk.
    Returns the record as read from there (its ranks found beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(ranks_path(path), lambda f: np.savez_compressed(f, **ranks))
    text = json.dumps(record.to_dict(), indent=2, sort_keys=False, default=_jsonable)
    _atomic_write(path, lambda f: f.write(text.encode()))
    return record.replace(path=path)


def write_text(path: Path, text: str) -> None:
    """A table or any text file, written atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def save_figure(fig, stem: Path) -> None:
    """A matplotlib figure as STEM.png and STEM.pdf, each written atomically."""
    for fmt in ("png", "pdf"):
        _atomic_write(
            stem.with_suffix(f".{fmt}"), lambda f, fmt=fmt: fig.savefig(f, format=fmt, dpi=150)
        )


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, FILE_MODE & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class RunRecord:
    """One run's record: built by the pipeline, written as JSON (`to_dict`) and read back
    (`from_dict`) through this one class. `record.metric("full", "test", "HR@10")`."""

    run_id: str
    model: str
    config: RunConfig
    is_baseline: bool  # the model's declaration, kept so tables need not import models
    display_order: int
    uses_seq_len: bool
    dataset: dict  # name, sha256, users, items, interactions, stats
    protocol: dict  # the protocol in words and numbers (split, candidates, ties, ...)
    metrics: dict  # metrics[protocol][split][name]
    timings: dict  # fit_seconds, eval_seconds, peak_rss_mb (cuda_peak_mb)
    device: dict  # device, name (threads on the CPU)
    environment: dict  # python, packages, git commit, platform
    created: str
    training: dict | None = None  # per-epoch history of models trained in epochs
    reused_model_of: str | None = None  # the run whose fitted model was scored (re-ranked runs)
    trial: dict | None = None  # a tuning trial's number, value and parameters
    schema_version: int = SCHEMA_VERSION
    path: Path | None = field(default=None, compare=False)  # the JSON file it was read from

    @property
    def params(self) -> dict[str, Any]:
        """Every model parameter, defaults included."""
        return dict(self.config.model.params)

    @property
    def code(self) -> str:
        """The model's code fingerprint."""
        return self.config.model.code

    @property
    def seed(self) -> int:
        return self.config.seed

    def metric(self, protocol: str, split: str, name: str) -> float | None:
        """A metric's value, or None when the run did not measure it."""
        return self.metrics.get(protocol, {}).get(split, {}).get(name)

    def ranks(self) -> dict[str, np.ndarray]:
        """Per-user ranks saved beside the record (keys like `full.test`, `users.valid`)."""
        if self.path is None:
            raise FileNotFoundError(f"{self.run_id}: record not read from a file")
        return read_ranks(self.path)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "path"}
        out["config"] = self.config.to_dict()
        return {"schema_version": out.pop("schema_version"), **out}

    @classmethod
    def from_dict(cls, d: dict, path: Path | None = None) -> RunRecord:
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            where = f"{path}: " if path else ""
            raise InputError(
                f"{where}a run record of schema {version}, not {SCHEMA_VERSION}: written by an "
                f"older seqrec-bench (see CHANGELOG.md); run it again to replace it"
            )
        names = {f.name for f in dataclasses.fields(cls)} - {"path", "config"}
        values = {k: v for k, v in d.items() if k in names}
        return cls(**values, config=RunConfig.from_dict(d["config"]), path=path and Path(path))

    def replace(self, **changes: Any) -> RunRecord:
        return dataclasses.replace(self, **changes)


def read_record(path: Path) -> RunRecord:
    return RunRecord.from_dict(json.loads(Path(path).read_text()), path)


def read_records(out_dir: str | Path) -> list[RunRecord]:
    """Every record under `<out_dir>/runs/`, sorted by file name."""
    return [read_record(p) for p in sorted((Path(out_dir) / "runs").glob("*.json"))]


def read_ranks(json_path: Path) -> dict[str, np.ndarray]:
    """Per-user ranks saved beside a record: keys like `users.test`, `full.test`, `sampled.test`."""
    with np.load(ranks_path(Path(json_path))) as f:
        return dict(f)
