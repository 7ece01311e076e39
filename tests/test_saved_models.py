"""Saved models are tensors and plain values: a file that would run code on loading, or the
fitted state of another run, is refused in one line before anything runs."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import synthetic_world

from benchmark import records
from benchmark.config import DataConfig, RunConfig
from benchmark.executors import model_from_bytes, model_to_bytes
from benchmark.models import create_model, model_config
from protocols.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "synthetic:n_users=60,n_items=40,mean_length=10"


class Payload:
    """Pickled, it asks the loader to call `Path.touch(marker)`: code run by opening a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _planted(marker) -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": "seqrec-bench fitted state 1", "state": Payload(marker)}, buffer)
    return buffer.getvalue()


def _config(name="pop", **params):
    return RunConfig(DataConfig("synthetic", fingerprint="abc"), model=model_config(name, params))


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    blob = _planted(marker)
    torch.load(io.BytesIO(blob), weights_only=False)  # what loading a pickle used to do
    assert marker.exists()
    marker.unlink()
    with pytest.raises(InputError, match="not a fitted state this version reads safely"):
        model_from_bytes(blob, _config(), "planted.model.pt")
    assert not marker.exists()


def test_the_fitted_state_of_another_run_is_refused():
    _, _, fit_data = synthetic_world(n_users=50, n_items=30, mean_length=8, seed=0)
    model = create_model("itemknn", neighbours=5).fit(fit_data)
    blob = model_to_bytes(model, _config("itemknn", neighbours=5))
    assert model_from_bytes(blob, _config("itemknn", neighbours=5)).similarity_.nnz > 0
    with pytest.raises(InputError, match="its params is"):
        model_from_bytes(blob, _config("itemknn", neighbours=6))
    with pytest.raises(InputError, match="its model is 'itemknn'"):
        model_from_bytes(blob, _config("pop"))
    other_data = RunConfig(
        DataConfig("synthetic", fingerprint="xyz"), model=_config("itemknn", neighbours=5).model
    )
    with pytest.raises(InputError, match="its data sha256 is 'abc'"):
        model_from_bytes(blob, other_data)


@pytest.mark.slow
def test_the_command_refuses_a_planted_model_beside_a_record(tmp_path):
    out, marker = tmp_path / "out", tmp_path / "ran"
    env = {**os.environ, "SEQREC_CACHE": str(tmp_path / "c")}
    run = [sys.executable, "-m", "benchmark.run", "--dataset", SYNTH, "--models", "pop"]
    run += ["--num-negatives", "20", "--ks", "5,10", "--out", str(out), "--device", "cpu"]
    assert subprocess.run(run, cwd=ROOT, env=env, capture_output=True).returncode == 0
    (saved,) = (out / "runs").glob("*.model.pt")
    saved.write_bytes(_planted(marker))
    before = sorted(p.name for p in (out / "runs").iterdir())
    result = subprocess.run(
        [*run, "--alpha", "0.5"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "reads safely" in result.stderr.strip().splitlines()[-1]
    assert not marker.exists() and sorted(p.name for p in (out / "runs").iterdir()) == before
    assert len(records.read_records(out)) == 1
