"""benchmark.ablate end to end on synthetic data: grids, outputs, α reuse, resume, executors."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from benchmark import ablate, records, run
from benchmark.models import list_models
from benchmark.report import command as report
from protocols import registry

SYNTH = "synthetic:n_users=120,n_items=80,n_clusters=6,mean_length=15,seed=5"
ROOT = Path(__file__).resolve().parents[1]

PLUGIN = textwrap.dedent('''
    """A popularity model that logs each fit and can kill its own process (for tests)."""
    import dataclasses, os, signal
    import numpy as np
    import torch
    from protocols.data import item_popularity
    from protocols.interface import Recommender
    from protocols.registry import register_model

    @register_model("counted-pop")
    class CountedPop(Recommender):
        @dataclasses.dataclass(frozen=True)
        class Params:
            emb_dim: int = 8  # unused: lets the emb_dim grid apply to this model

        def fit(self, data):
            if os.environ.get("KILL_AT_EMB_DIM") == str(self.params.emb_dim):
                os.kill(os.getpid(), signal.SIGKILL)  # as if the machine died mid-grid
            with open(os.environ["FIT_LOG"], "a") as log:
                log.write(f"{self.params.emb_dim}\\n")
            self.pop_ = torch.as_tensor(item_popularity(data.train, data.n_items)).float()
            return self

        def score(self, batch):
            return self.pop_.expand(len(batch), -1).clone()
''')


def _argv(out, *extra):
    return [
        "--dataset", SYNTH, "--seq-len", "6", "--num-negatives", "30",
        "--device", "cpu", "--out", str(out), *extra,
    ]  # fmt: skip


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "counted_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.MODELS, "entries", dict(registry.MODELS.entries))
    fit_log = tmp_path / "fits.log"
    monkeypatch.setenv("FIT_LOG", str(fit_log))
    yield fit_log
    sys.modules.pop("counted_plugin", None)


def _fits(fit_log: Path) -> list[str]:
    return fit_log.read_text().split() if fit_log.exists() else []


def test_seq_len_grid_writes_records_table_and_figure(tmp_path):
    out = tmp_path / "abl"
    argv = _argv(out, "--param", "seq_len", "--values", "4,8", "--models", "gru", "--epochs", "1")
    assert ablate.main(argv) == 0
    recs = records.read_records(out)
    assert sorted(r.config.protocol.seq_len for r in recs) == [4, 8]
    for name in ("ablation.md", "ablation.tex", "ablation.csv", "ablation.png", "ablation.pdf"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "ablation.md").read_text()
    assert "gru, seq_len=4" in table and "full:coverage@10" in table
    assert report.main([str(out)]) == 0  # the records are ordinary runs


def test_seeds_give_mean_and_std(tmp_path, plugin):
    out = tmp_path / "abl"
    argv = _argv(out, "--param", "emb_dim", "--values", "4", "--models", "counted-pop")
    assert ablate.main([*argv, "--seeds", "0,1", "--plugins", "counted_plugin"]) == 0
    assert sorted(r.seed for r in records.read_records(out)) == [0, 1]
    assert "±" in (out / "ablation.md").read_text()


def test_alpha_grid_fits_each_model_once_and_alpha_zero_is_the_plain_run(tmp_path, plugin):
    out = tmp_path / "abl"
    plain = tmp_path / "plain"
    assert run.main([*_argv(plain, "--models", "counted-pop"), "--plugins", "counted_plugin"]) == 0
    argv = _argv(out, "--param", "alpha", "--values", "0,0.5,2", "--models", "counted-pop")
    assert ablate.main([*argv, "--plugins", "counted_plugin"]) == 0
    assert _fits(plugin) == ["8", "8"]  # one fit for the plain run, one for the whole grid
    recs = {r.config.protocol.alpha: r for r in records.read_records(out)}
    assert recs[0.0].reused_model_of is None and recs[2.0].reused_model_of
    assert recs[2.0].timings["fit_seconds"] == 0.0
    plain_rec = records.read_records(plain)[0]
    assert plain_rec.run_id == recs[0.0].run_id
    a = records.read_ranks(records.record_path(plain, plain_rec.run_id))
    b = records.read_ranks(records.record_path(out, recs[0.0].run_id))
    assert np.array_equal(a["full.test"], b["full.test"])
    assert np.array_equal(a["top_items.test"], b["top_items.test"])
    # the penalty pushes recommendations towards the long tail
    tail = [recs[a].metrics["full"]["test"]["long_tail@10"] for a in (0.0, 0.5, 2.0)]
    assert tail[-1] > tail[0]
    # a new α value later re-ranks the saved model: still no new fit
    assert ablate.main([*argv[:-4], "--values", "1", "--models", "counted-pop",
                        "--plugins", "counted_plugin"]) == 0  # fmt: skip
    assert _fits(plugin) == ["8", "8"]


@pytest.mark.slow
def test_killed_ablation_resumes_with_only_the_missing_points(tmp_path, plugin):
    out = tmp_path / "abl"
    argv = [
        sys.executable, "-m", "benchmark.ablate",
        *_argv(out, "--param", "emb_dim", "--values", "2,4,16,32", "--models", "counted-pop",
               "--plugins", "counted_plugin"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{plugin.parent}{os.pathsep}{ROOT}"}
    killed = subprocess.run(argv, env={**env, "KILL_AT_EMB_DIM": "16"}, capture_output=True)
    assert killed.returncode != 0
    done = {r.params["emb_dim"]: r.created for r in records.read_records(out)}
    assert sorted(done) == [2, 4]
    assert not list((out / "runs").glob(".*.tmp"))  # nothing half-written
    finished = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert _fits(plugin) == ["2", "4", "16", "32"]  # 2 and 4 were not fitted again
    again = {r.params["emb_dim"]: r.created for r in records.read_records(out)}
    assert sorted(again) == [2, 4, 16, 32]
    assert all(again[v] == done[v] for v in (2, 4))
    assert (out / "ablation.png").exists()


@pytest.mark.slow
def test_parallel_processes_give_the_same_records_as_one_process(tmp_path):
    common = ["--param", "emb_dim", "--values", "8,16", "--models", "mlp", "--epochs", "1"]
    assert ablate.main(_argv(tmp_path / "one", *common)) == 0
    assert ablate.main(_argv(tmp_path / "two", *common, "--jobs", "2")) == 0
    one = {r.run_id: r.metrics for r in records.read_records(tmp_path / "one")}
    two = {r.run_id: r.metrics for r in records.read_records(tmp_path / "two")}
    assert one.keys() == two.keys()
    for key in one:
        assert json.dumps(one[key]["full"], sort_keys=True) == json.dumps(
            two[key]["full"], sort_keys=True
        )


@pytest.mark.slow
def test_ray_executor_runs_a_tiny_grid(tmp_path):
    pytest.importorskip("ray")
    argv = _argv(tmp_path / "ray", "--param", "alpha", "--values", "0,1", "--models", "pop")
    assert ablate.main([*argv, "--executor", "ray"]) == 0
    assert len(records.read_records(tmp_path / "ray")) == 2


def test_default_models_of_an_ablation_can_all_train_as_it_trains():
    """The neg_ratio grid trains with bce: a model limited to other losses is not in it."""
    names = [m for m in list_models() if ablate.applies("neg_ratio", m)]
    assert {"gru", "sasrec"} <= set(names) and "bert4rec" not in names
    assert not ablate.applies("neg_ratio", "pop") and ablate.applies("seq_len", "bert4rec")


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--param", "seq_len", "--values", "a,b"], "--values"),
        (["--param", "neg_ratio", "--loss", "ce"], "bce"),
        (["--param", "seq_len", "--models", "pop"], "does not change"),
        (["--param", "neg_ratio", "--models", "bert4rec"], "does not change"),
        (["--param", "alpha", "--values", "-1"], "alpha must be >= 0"),
        (["--param", "depth"], "unknown ablation 'depth'"),
        (["--param", "rerank:fair"], "unknown re-ranker 'fair'"),
        (["--param", "rerank", "--values", "1,2"], "name one for --values"),
        (["--param", "rerank:exposure-cap", "--values", "0"], "cap must be >= 1"),
    ],
)
def test_bad_ablation_input_is_one_line_and_exit_2(tmp_path, extra, message):
    out = tmp_path / "abl"
    result = subprocess.run(
        [sys.executable, "-m", "benchmark.ablate", *_argv(out, *extra)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_the_frontier_on_ml_100k_has_every_reranker_table_and_figure(tmp_path):
    from benchmark.datasets import data_root

    if not (data_root() / "ml-100k" / "u.data").is_file():
        pytest.skip("ml-100k is not in the data folder")
    out = tmp_path / "frontier"
    argv = ["--param", "rerank", "--dataset", "ml-100k", "--models", "pop", "--out", str(out)]
    assert ablate.main([*argv, "--device", "cpu"]) == 0
    text = (out / "frontier.md").read_text()
    for name in ("pop-penalty", "calibrated", "xquad", "exposure-cap", "coverage-fill"):
        assert f"| {name} " in text and f"{name}, <= 5% loss" in text
    assert re.search(r" \* +\|", text) and "who pays" in text and "sampled:coverage@10" in text
    assert (out / "frontier_pop.png").exists() and (out / "frontier.tex").exists()
    recs = {r.config.protocol.rerank: r for r in records.read_records(out)}
    plain, filled = recs[""], recs["coverage-fill=1"]
    cover = [r.metric("full", "test", "coverage@10") for r in (plain, filled)]
    assert cover[1] > 2 * cover[0]  # one slot per user covers far more of the catalogue
    capped = recs["exposure-cap=20"].ranks()["top_items.test"][:, :10]
    assert np.bincount(capped[capped > 0]).max() <= 20


def test_users_with_equal_taste_for_popular_items_fall_in_one_group():
    from benchmark.report.frontier import taste_groups

    shares = np.array([0.0, 0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert taste_groups(shares).tolist() == [0, 0, 0, 0, 2, 2, 3, 3, 4, 4]
    spread = np.linspace(0, 1, 10)[::-1]  # no ties: five groups of two, by share
    assert taste_groups(spread).tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]
