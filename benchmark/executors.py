"""Where runs execute: in this process, in N local processes, or as Ray tasks.

The unit of work is one fitted model and every run that scores it (the α values of a
popularity-penalty grid share one fit). Workers return records and ranks; only the calling
process writes files, so results are ordinary run records whichever executor ran them.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass

from benchmark.config import RunConfig
from protocols.errors import InputError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Unit:
    """Runs sharing one fitted model: fit `configs[0].trained_by()` (or load `saved_model`)."""

    configs: tuple[RunConfig, ...]
    saved_model: bytes | None = None  # a fitted model from an earlier run, to score again


@dataclass(frozen=True)
class UnitResult:
    unit: Unit
    outputs: list  # [(record, ranks)] in the order of unit.configs
    fitted_model: bytes | None  # the model fitted by this unit (None when it was reused)


def model_to_bytes(model) -> bytes | None:
    import torch

    buffer = io.BytesIO()
    try:
        torch.save(model, buffer)
    except (TypeError, AttributeError, RuntimeError):  # e.g. a plugin holding a lambda
        return None
    return buffer.getvalue()


def model_from_bytes(blob: bytes, device: str):
    import torch

    model = torch.load(io.BytesIO(blob), map_location=device, weights_only=False)
    if hasattr(model, "device_"):
        model.device_ = torch.device(device)
    return model


def run_unit(unit: Unit, progress: bool = False, plugins: str = "") -> UnitResult:
    """Fit (or load) the unit's model once, then evaluate each of its configurations."""
    from benchmark.pipeline import evaluate_model, fit_model
    from benchmark.run import import_plugins

    import_plugins(plugins)  # a fresh worker process knows only the built-in models
    base = unit.configs[0].trained_by()
    if unit.saved_model is not None:
        model, fit_seconds, fitted = model_from_bytes(unit.saved_model, base.device), 0.0, None
    else:
        model, fit_seconds = fit_model(base)
        fitted = model_to_bytes(model)
    outputs = []
    for config in unit.configs:
        fitted_here = unit.saved_model is None and config == base
        outputs.append(
            evaluate_model(
                config,
                model,
                fit_seconds if fitted_here else 0.0,
                progress,
                reused_from=None if fitted_here else base.run_id(),
            )
        )
    return UnitResult(unit, outputs, fitted)


def run_units(
    units: list[Unit],
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    plugins: str = "",
    progress: bool = False,
) -> Iterator[UnitResult]:
    """Results in completion order (in order when run in this process)."""
    if executor not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    if executor == "ray":
        yield from _ray(units, ray_address, plugins)
    elif jobs == 1 or len(units) <= 1:
        for unit in units:
            yield run_unit(unit, progress, plugins)
    else:
        yield from _processes(units, jobs, plugins)


def _processes(units: list[Unit], jobs: int, plugins: str) -> Iterator[UnitResult]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cores or 1) // jobs)  # the processes share the cores, not multiply them
    context = multiprocessing.get_context("spawn")  # torch and fork do not mix
    with cf.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_limit_threads, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(run_unit, unit, False, plugins) for unit in units]
        try:
            for future in cf.as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _ray(units: list[Unit], address: str | None, plugins: str) -> Iterator[UnitResult]:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'seqrec-bench[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(run_unit)
        pending = {task.remote(unit, False, plugins): unit for unit in units}
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            pending.pop(finished[0])
            yield ray.get(finished[0])
    finally:
        if started_here:
            ray.shutdown()
