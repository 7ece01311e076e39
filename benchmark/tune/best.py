"""OUT/best.json, written and read here: per model the chosen parameters, the budget, the space
and the test runs of a finished `benchmark.tune`.

Light on purpose (no optuna, no torch): `benchmark.experiment` reads it for `--tuned OUT`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark import records
from protocols.errors import InputError

BEST = "best.json"


def read_best(out: str | Path) -> dict:
    """OUT/best.json, or an empty one ({"models": {}}) before the first study finished."""
    path = Path(out) / BEST
    return json.loads(path.read_text()) if path.exists() else {"models": {}}


def write_best(out: str | Path, best: dict) -> None:
    records.write_text(Path(out) / BEST, json.dumps(best, indent=2))


def search_seconds(entry: dict) -> float:
    """One model's search cost as the estimate prices it: its trials' summed seconds (best.json
    files written before `trial_seconds` existed give their wall time)."""
    return entry.get("trial_seconds", entry["wall_seconds"])


def forget(out: str | Path, models: set[str]) -> None:
    """Drop the entries of `models` from OUT/best.json (their searches are being discarded), then
    every file of theirs in OUT/runs (test runs' records, kept trials' models), so that no table
    of OUT shows a run of the old search: also those of a study stopped before its test runs
    were listed in best.json."""
    best = read_best(out)
    if models & set(best["models"]):
        best["models"] = {k: v for k, v in best["models"].items() if k not in models}
        write_best(out, best)
    for path in (Path(out) / "runs").glob("*"):
        if path.name.split(".")[0].rpartition("-")[0] in models:  # <model>-<hash>.<suffix>
            path.unlink()


def all_test_runs(best: dict) -> list[str]:
    """Every test run of a finished study: the chosen configurations' and the defaults'."""
    entries = best["models"].values()
    runs = [i for e in entries for i in (*e.get("test_runs", []), *e.get("default_test_runs", []))]
    return list(dict.fromkeys(runs))


def tuned_params(out: str | Path) -> dict[str, dict[str, Any]]:
    """{model: parameters} of a finished tuning in OUT: the best searched parameters plus the
    ones fixed on the tuning command line (an epoch cap, say), as the tuned test runs used."""
    path = Path(out) / BEST
    try:
        best = json.loads(path.read_text())
        return {
            model: {
                k: tuple(v) if isinstance(v, list) else v
                for k, v in {**entry["fixed"], **entry["params"]}.items()
            }
            for model, entry in best["models"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"--tuned {out}: cannot read {path}: {error!r}") from None


def is_chosen(record: records.RunRecord, tuned: dict[str, dict[str, Any]]) -> bool:
    """Whether `record` ran its model's chosen configuration: it has every parameter value that
    `tuned` (`tuned_params`) gives its model (True for a model `tuned` lacks)."""
    return all(record.params.get(k) == v for k, v in tuned.get(record.model, {}).items())


def with_tuned(params: dict[str, dict], out: str | Path) -> dict[str, dict]:
    """Each model's parameters: the tuned ones in OUT, overridden by explicit ones."""
    tuned = tuned_params(out)
    missing = sorted(set(params) - set(tuned))
    if missing:
        raise InputError(f"--tuned {out}: no tuned parameters for {', '.join(missing)}")
    return {m: {**tuned[m], **dict(p)} for m, p in params.items()}
