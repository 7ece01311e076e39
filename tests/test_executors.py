"""benchmark.executors: parallel workers start nothing after --stop-after's deadline."""

import time
from pathlib import Path

import pytest

from benchmark import executors


def _record_start(unit, progress, plugins):
    """A unit of work (in a spawned worker): note that it started, then take a while."""
    folder, name = unit
    (Path(folder) / name).touch()
    time.sleep(2.0)
    return name


@pytest.mark.slow
def test_workers_start_no_unit_once_the_deadline_has_passed(tmp_path):
    units = [(str(tmp_path), f"unit-{i}") for i in range(6)]
    # the first two begin at once; each ends after the deadline, so none may follow
    stop_at = time.time() + 1.0
    done = list(executors._processes(units, 2, "", stop_at, work=_record_start))
    started = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(done) == started == ["unit-0", "unit-1"]


@pytest.mark.slow
def test_workers_run_every_unit_without_a_deadline(tmp_path):
    units = [(str(tmp_path), f"unit-{i}") for i in range(3)]
    done = list(executors._processes(units, 2, "", None, work=_record_start))
    assert sorted(done) == ["unit-0", "unit-1", "unit-2"]
