"""Self-describing run records: one JSON file per run (plus per-user ranks), written atomically."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 2  # 2: beyond-accuracy metrics, estimated_full, alpha, targets in the ranks
PACKAGES = ("seqrec-bench", "torch", "numpy", "pandas", "scipy", "implicit")


def record_path(out_dir: str | Path, run_id: str) -> Path:
    return Path(out_dir) / "runs" / f"{run_id}.json"


def ranks_path(json_path: Path) -> Path:
    return json_path.with_suffix(".ranks.npz")


def model_path(json_path: Path) -> Path:
    """The fitted model beside a record (pickled; machine-local, never committed)."""
    return Path(json_path).with_suffix(".model.pt")


def write_model(path: Path, blob: bytes) -> None:
    """A pickled fitted model (`benchmark.executors.model_to_bytes`), written atomically."""
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
        "git_commit": _git_commit(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def _git_commit() -> str | None:
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
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def write_record(path: Path, record: dict, ranks: dict[str, np.ndarray]) -> None:
    """Ranks first, then the JSON: a record file exists only when the whole run is on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(ranks_path(path), lambda f: np.savez_compressed(f, **ranks))
    text = json.dumps(record, indent=2, sort_keys=False, default=_jsonable)
    _atomic_write(path, lambda f: f.write(text.encode()))


def write_text(path: Path, text: str) -> None:
    """A table or any text file, written atomically."""
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


def read_record(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def read_records(out_dir: str | Path) -> list[dict]:
    """Every record under `<out_dir>/runs/`, sorted by file name."""
    return [read_record(p) for p in sorted((Path(out_dir) / "runs").glob("*.json"))]


def read_ranks(json_path: Path) -> dict[str, np.ndarray]:
    """Per-user ranks saved beside a record: keys like `users.test`, `full.test`, `sampled.test`."""
    with np.load(ranks_path(Path(json_path))) as f:
        return dict(f)
