"""The Python API: build a configuration, run it, read the records.

    from benchmark.api import build_config, run_configs, read_records

    configs = [build_config("gru", {"epochs": 5}, dataset="ml-100k", seed=s) for s in (0, 1, 2)]
    records = run_configs(configs, "results/gru-ml-100k")   # skips runs whose record exists
    [r.metric("full", "test", "NDCG@10") for r in read_records("results/gru-ml-100k")]

Options are the command line's, with underscores (`min_rating`, `num_negatives`, `alpha`, ...);
model parameters are checked and resolved against the model (defaults included).
"""

from __future__ import annotations

from typing import Any

from benchmark.config import RunConfig
from benchmark.executors import execute
from benchmark.experiment import negatives_options, resolve_device
from benchmark.models import model_config
from benchmark.records import RunRecord, read_records

__all__ = ["RunConfig", "RunRecord", "build_config", "read_records", "run_configs"]


def build_config(model: str = "pop", params: dict | None = None, **options: Any) -> RunConfig:
    """`build_config("gru", {"epochs": 5}, dataset="ml-100k", seed=1)`, validated; the device
    (cpu unless given; `auto` picks cuda when present) is resolved to a concrete one."""
    config = RunConfig(model=model_config(model, params or {})).replace(**options)
    config = config.replace(**negatives_options(options, config.data.dataset))
    return config.replace(device=resolve_device(config.device)).validate()


def run_configs(configs: list[RunConfig], out: str, force: bool = False, **execution) -> list:
    """Run (or read back) every configuration; the typed records, in no particular order.
    `execution`: executor ("local" or "ray"), jobs, ray_address, plugins."""
    return execute(configs, out, force, **execution)
