"""Planning and execution: which runs are missing, grouped into units, run in this process, in
N local processes, or as Ray tasks; then the records are written.

The unit of work is one fitted model and every run that scores it (the strengths of a
re-ranker's grid share one fit). Workers return records and ranks; only the calling
process writes files, so results are ordinary run records whichever executor ran them.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmark import records
from benchmark.commands import past
from benchmark.config import RunConfig
from benchmark.records import RunRecord
from protocols.errors import InputError

log = logging.getLogger("benchmark.executors")

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Unit:
    """Runs sharing one fitted model: fit `configs[0].trained_by()` (or load `saved_model`)."""

    configs: tuple[RunConfig, ...]
    saved_model: bytes | None = None  # a fitted model from an earlier run, to score again


@dataclass(frozen=True)
class UnitResult:
    unit: Unit
    outputs: list  # [(RunRecord, ranks)] in the order of unit.configs
    fitted_model: bytes | None  # the model fitted by this unit (None when it was reused)


SAVED_FORMAT = "seqrec-bench fitted state 1"


def model_to_bytes(model, config: RunConfig) -> bytes | None:
    """A fitted model as tensors and plain values (`Recommender.fitted_state`) with the run
    that fitted it; None (not saved, refitted when needed) for a model that cannot say."""
    import torch

    try:
        state = model.fitted_state()
    except TypeError as error:  # e.g. a plugin holding a library object
        log.info("%s: the fitted model is not saved (%s)", config.model.name, error)
        return None
    saved = {
        "format": SAVED_FORMAT,
        "model": config.model.name,
        "params": dict(config.model.params),
        "data_sha256": config.data.fingerprint,
        "run_id": config.run_id(),
        "state": state,
    }
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    return buffer.getvalue()


def model_from_bytes(blob: bytes, config: RunConfig, where: str = "a saved model"):
    """The model `config` fitted, read from `model_to_bytes`'s bytes without running any code
    they might carry (`weights_only`), after checking that they are that run's model."""
    import pickle

    import torch

    from benchmark.models import create_model

    try:
        saved = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(
            f"{where}: not a fitted state this version reads safely ({first[:120]}); delete it "
            "or re-run with --force"
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != SAVED_FORMAT:
        raise InputError(f"{where}: not a seqrec-bench fitted state; delete it or use --force")
    expected = {
        "model": config.model.name,
        "params": dict(config.model.params),
        "data_sha256": config.data.fingerprint,
        "run_id": config.run_id(),
    }
    for key, value in expected.items():
        if _plain(saved.get(key)) != _plain(value):
            raise InputError(
                f"{where}: its {key.replace('_', ' ')} is {saved.get(key)!r}, this run's is "
                f"{value!r}; delete it or use --force"
            )
    model = create_model(config.model.name, **expected["params"])
    model.load_fitted_state(saved["state"])
    model.to_device(config.device)
    return model


def _plain(value):
    """Tuples and lists compare alike (a saved tuple may come back as either)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def execute(
    configs: list[RunConfig],
    out: str,
    force: bool = False,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    plugins: str = "",
    skip_infeasible: bool = False,
    stop_at: float | None = None,
) -> list[RunRecord]:
    """Run each config whose record is missing (or all with force); return every record.
    A re-ranker that cannot fill every list on its data is refused, or with `skip_infeasible`
    (a default grid) left out with a warning. No unit of work starts after `stop_at` (a
    `time.time()`; local executors): the records of the others are simply not there yet.

    Runs that differ only in their re-ranker share one fitted model; a model fitted earlier
    (saved beside its record) is scored again rather than refitted, unless `force`.
    """
    records.code_commit()  # the commit of the code this process runs, before any model runs
    done, units, prepared = plan(configs, out, force, skip_infeasible)
    todo = [config for unit in units for config in unit.configs]
    progress = sys.stderr.isatty() and jobs == 1 and executor == "local"
    start, written = time.time(), []
    try:
        results = run_units(
            units, executor, jobs, ray_address, plugins, progress, prepared, stop_at
        )
        for result in results:
            base = result.unit.configs[0].trained_by()
            if result.fitted_model is not None:
                base_path = records.record_path(out, base.run_id())
                records.write_model(records.model_path(base_path), result.fitted_model)
            for config, (record, ranks) in zip(result.unit.configs, result.outputs, strict=True):
                path = records.record_path(out, config.run_id())
                done.append(records.write_record(path, record, ranks))
                written.append(record.run_id)
                _log_result(done[-1])
    finally:
        if written:  # what wrote these records: command, commit, device, date, wall time
            from benchmark.pipeline import device_label

            device = device_label(todo[0].device)
            records.add_provenance(out, written, start, device, finished=len(written) == len(todo))
    return done


def plan(
    configs: list[RunConfig], out: str, force: bool = False, skip_infeasible: bool = False
) -> tuple[list[RunRecord], list[Unit], dict]:
    """(The records that exist, the units of work still to run, their `Prepared` by
    `pipeline.prepared_key`). Bad data or input fails here, before any model runs."""
    from benchmark.pipeline import with_fingerprints  # torch and the data: only with work

    configs, loaded = with_fingerprints(configs)
    done, todo = [], []
    for config in configs:
        path = records.record_path(out, config.run_id())
        if path.exists() and not force:
            log.info("%s: record exists (%s), skipped", config.model.name, path)
            done.append(records.read_record(path))
        else:
            todo.append(config)
    prepared = prepare_all(todo, loaded)
    todo = feasible(todo, prepared, skip_infeasible)
    return done, plan_units(todo, out, force), prepared


def prepare_all(configs: list[RunConfig], loaded: dict | None = None) -> dict:
    """One `Prepared` per data, negatives and seed; each data set loaded once (`loaded`: data
    configuration -> `load_data` result, of data already loaded)."""
    from benchmark.pipeline import load_data, prepare, prepared_key  # torch: only with work

    loaded, prepared = dict(loaded or {}), {}
    for config in configs:
        key = prepared_key(config)
        if key not in prepared:
            if config.data not in loaded:
                loaded[config.data] = load_data(config.data)
            prepared[key] = prepare(config, loaded[config.data])
    return prepared


def feasible(configs: list[RunConfig], prepared: dict, skip: bool) -> list[RunConfig]:
    """The configurations whose re-ranker can fill every list; InputError for the first that
    cannot, unless `skip` (then it is left out with a warning)."""
    from benchmark.pipeline import check_rerank, prepared_key

    kept = []
    for config in configs:
        try:
            check_rerank(config, prepared[prepared_key(config)])
        except InputError as error:
            if not skip:
                raise
            log.warning("%s: %s; left out", config.model.name, error)
            continue
        kept.append(config)
    return kept


def plan_units(todo: list[RunConfig], out: str, force: bool) -> list[Unit]:
    """Group runs by the model they score; attach that model when it was saved earlier."""
    groups: dict[str, list[RunConfig]] = {}
    for config in todo:
        groups.setdefault(config.trained_by().run_id(), []).append(config)
    units = []
    for base_id, members in groups.items():
        saved = records.model_path(records.record_path(out, base_id))
        blob = saved.read_bytes() if saved.exists() and not force else None
        if blob is not None:  # refused here, before any model runs, if it is not that model
            model_from_bytes(blob, members[0].trained_by(), str(saved))
        units.append(Unit(tuple(members), blob))
    return units


def _log_result(record: RunRecord) -> None:
    rerank = record.config.protocol.rerank
    log.info(
        "%s%s: test HR@10 sampled %.4f full %.4f (fit %.1fs, eval %.1fs)",
        record.model,
        f" {rerank}" if rerank else "",
        record.metric("sampled", "test", "HR@10") or float("nan"),
        record.metric("full", "test", "HR@10") or float("nan"),
        record.timings["fit_seconds"],
        record.timings["eval_seconds"],
    )


def run_unit(unit: Unit, progress: bool = False, plugins: str = "", prepared=None) -> UnitResult:
    """Fit (or load) the unit's model once, then evaluate each of its configurations.
    `prepared` is the units' `Prepared`; a worker process prepares its own (None)."""
    from benchmark.models import import_plugins
    from benchmark.pipeline import evaluate_model, fit_model, prepare

    import_plugins(plugins)  # a fresh worker process knows only the built-in models
    base = unit.configs[0].trained_by()
    prepared = prepared or prepare(base)
    if unit.saved_model is not None:
        model, fit_seconds, fitted = model_from_bytes(unit.saved_model, base), 0.0, None
    else:
        model, fit_seconds = fit_model(base, prepared)
        fitted = model_to_bytes(model, base)
    outputs = []
    for config in unit.configs:
        fitted_here = unit.saved_model is None and config == base
        outputs.append(
            evaluate_model(
                config,
                model,
                prepared,
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
    prepared: dict | None = None,
    stop_at: float | None = None,
) -> Iterator[UnitResult]:
    """Results in completion order (in order when run in this process). `prepared` maps
    `pipeline.prepared_key` to `Prepared` for in-process runs; workers prepare their own.
    Local executors start no unit after `stop_at` (those running finish and are yielded)."""
    if executor not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if jobs < 1:
        raise InputError(f"--jobs must be >= 1, got {jobs}")
    if executor == "ray":
        yield from _ray(units, ray_address, plugins)
    elif jobs == 1 or len(units) <= 1:
        from benchmark.pipeline import prepared_key

        for unit in units:
            if past(stop_at):
                return
            ready = (prepared or {}).get(prepared_key(unit.configs[0]))
            yield run_unit(unit, progress, plugins, ready)
    else:
        yield from _processes(units, jobs, plugins, stop_at)


def threads_per_worker(jobs: int) -> int:
    """Torch threads for each of `jobs` local workers: they share the cores this process may
    use, not multiply them."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // jobs)


def _processes(
    units: list[Unit], jobs: int, plugins: str, stop_at: float | None = None, work=run_unit
) -> Iterator[UnitResult]:
    """`work(unit, False, plugins)` for each unit in `jobs` spawned workers. A unit is handed to
    the pool only when a worker is free and `stop_at` has not passed: the pool queues what it is
    given ahead and would start it after the deadline, where a queued future cannot be
    cancelled any more."""
    threads = threads_per_worker(jobs)
    context = multiprocessing.get_context("spawn")  # torch and fork do not mix
    waiting, running = iter(units), set()
    with cf.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_limit_threads, initargs=(threads,)
    ) as pool:

        def start_next() -> None:
            unit = next(waiting, None)
            if unit is not None and not past(stop_at):
                running.add(pool.submit(work, unit, False, plugins))

        for _ in range(jobs):
            start_next()
        try:
            while running:
                done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    running.discard(future)
                    result = future.result()
                    start_next()  # before the caller's own work on the result
                    yield result
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


@contextmanager
def ray_session(address: str | None):
    """Ray, initialised here unless the caller already did (then left running)."""
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'seqrec-bench[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _ray(units: list[Unit], address: str | None, plugins: str) -> Iterator[UnitResult]:
    with ray_session(address) as ray:
        task = ray.remote(run_unit)
        pending = {task.remote(unit, False, plugins): unit for unit in units}
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            pending.pop(finished[0])
            yield ray.get(finished[0])
