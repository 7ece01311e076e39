"""End to end: the command line on synthetic data, records, resume, plugins and reports."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from benchmark import records, run
from benchmark.api import build_config, run_configs
from benchmark.pipeline import load_data, prepare
from benchmark.report import command as report
from protocols import registry
from protocols.interface import Recommender

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "synthetic:n_users=200,n_items=120,n_clusters=8,mean_length=20,seed=3"


def _run(tmp_path, *extra):
    argv = [
        "--dataset",
        SYNTH,
        "--seq-len",
        "8",
        "--num-negatives",
        "50",
        "--out",
        str(tmp_path / "out"),
        "--device",
        "cpu",
        *extra,
    ]
    return run.main(argv)


def test_run_writes_complete_records(tmp_path):
    assert _run(tmp_path, "--models", "pop,itemknn") == 0
    recs = records.read_records(tmp_path / "out")
    assert sorted(r.model for r in recs) == ["itemknn", "pop"]
    rec = recs[0]
    written = json.loads(records.record_path(tmp_path / "out", rec.run_id).read_text())
    for key in (
        "schema_version",
        "run_id",
        "config",
        "dataset",
        "protocol",
        "metrics",
        "timings",
        "device",
        "environment",
        "is_baseline",
        "display_order",
    ):
        assert key in written
    assert records.RunRecord.from_dict(written) == rec.replace(path=None)  # one class both ways
    assert rec.config.model.code == rec.code and rec.config.device == "cpu"
    for protocol in ("sampled", "full"):
        for part in ("valid", "test"):
            assert 0.0 <= rec.metrics[protocol][part]["HR@10"] <= 1.0
            assert rec.metrics[protocol][part]["Recall@10"] == rec.metrics[protocol][part]["HR@10"]
    assert rec.protocol["ties"].startswith("pessimistic")
    assert rec.dataset["sha256"] and rec.dataset["users"] > 0
    ranks = records.read_ranks(records.record_path(tmp_path / "out", rec.run_id))
    assert ranks["full.test"].shape == (rec.metrics["full"]["test"]["users"], 1)


def test_records_resume_instead_of_rerunning(tmp_path):
    assert _run(tmp_path, "--models", "pop,itemknn") == 0
    paths = sorted((tmp_path / "out" / "runs").glob("*.json"))
    mtimes = [p.stat().st_mtime_ns for p in paths]
    assert _run(tmp_path, "--models", "pop,itemknn") == 0  # nothing new to do
    assert [p.stat().st_mtime_ns for p in paths] == mtimes
    assert _run(tmp_path, "--models", "pop", "--force") == 0
    assert paths[0].name.startswith("itemknn") and paths[0].stat().st_mtime_ns == mtimes[0]
    assert paths[1].stat().st_mtime_ns != mtimes[1]  # pop ran again
    # each command that wrote records says so in provenance.json; the one that wrote none not
    entries = records.read_provenance(tmp_path / "out")
    assert [sorted(e["runs"]) for e in entries] == [sorted(p.stem for p in paths), [paths[1].stem]]
    first = entries[0]
    assert first["command"] == records.invocation() and first["finished"]
    assert first["device"].startswith("cpu") and first["wall_seconds"] >= 0
    assert first["packages"]["seqrec-bench"] == metadata.version("seqrec-bench")
    assert first["commit"] != ""


def test_a_command_stopped_by_sigterm_records_what_it_wrote(tmp_path, monkeypatch):
    from benchmark import pipeline

    calls, real = [], pipeline.fit_model

    def fit(config, prepared, epoch_hooks=()):
        calls.append(config.model.name)
        if len(calls) == 2:  # `kill` while the second model trains
            os.kill(os.getpid(), signal.SIGTERM)
        return real(config, prepared, epoch_hooks)

    monkeypatch.setattr(pipeline, "fit_model", fit)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "--models", "pop,itemknn")
    (entry,) = records.read_provenance(tmp_path / "out")
    assert len(entry["runs"]) == 1 and entry["finished"] is False
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the command's alone


def test_candidates_are_identical_across_models_and_runs(tmp_path, monkeypatch):
    base = build_config("pop", dataset=SYNTH, seq_len=8, num_negatives=50)
    first = prepare(base).negatives
    second = prepare(build_config("itemknn", {"neighbours": 5}, dataset=SYNTH, seq_len=8,
                                  num_negatives=50)).negatives  # fmt: skip
    for part in ("valid", "test"):  # read back from the store
        assert first[part] is not second[part] and np.array_equal(first[part], second[part])
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "fresh"))  # a new run, nothing stored
    assert np.array_equal(prepare(base.replace(device="cpu")).negatives["test"], first["test"])
    other_seed = prepare(base.replace(seed=1)).negatives
    assert not np.array_equal(other_seed["test"], first["test"])


def test_same_seed_same_metrics(tmp_path, monkeypatch):
    """Negatives drawn afresh (nothing stored to reuse) give the same metrics for the same
    seed and other sampled metrics for another seed."""

    def metrics(out, seed):
        argv = ["--models", "itemknn", "--seed", seed, "--out", str(tmp_path / out)]
        assert _run(tmp_path, *argv) == 0
        return records.read_records(tmp_path / out)[0].metrics

    first = metrics("first", "0")
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "fresh"))  # the negatives are drawn again
    assert metrics("again", "0") == first
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "fresh-other-seed"))
    other = metrics("other", "1")
    assert other["full"] == first["full"]  # itemknn ignores the seed: the same model and ranks
    assert other["sampled"] != first["sampled"]  # the negatives follow the seed


class _FitSpy(Recommender):
    """Keeps every FitData it is fitted on; scores all items alike."""

    seen: ClassVar[list] = []

    def fit(self, data):
        type(self).seen.append(data)
        self.n_items_ = data.n_items
        return self

    def score(self, batch):
        return torch.zeros(len(batch), self.n_items_ + 1)


def test_a_model_learns_from_the_training_part_only(tmp_path, monkeypatch):
    """Under leave-one-out FitData.train is each history without its last two events (the
    validation and test targets), and the stored item popularity counts those events only."""
    monkeypatch.setattr(registry.MODELS, "entries", dict(registry.MODELS.entries))
    registry.register_model("fit-spy")(_FitSpy)
    monkeypatch.setattr(_FitSpy, "seen", [])
    assert _run(tmp_path, "--models", "fit-spy", "--split", "loo") == 0
    (seen,) = _FitSpy.seen
    (rec,) = records.read_records(tmp_path / "out")
    data, split, _ = load_data(rec.config.data)
    full, users = data.histories, np.arange(data.n_users)
    held_out = np.where(full.lengths >= 3, 2, 0)  # shorter histories only train
    expected = full.prefixes(users, full.lengths - held_out)
    assert held_out.sum() == 2 * split.test.n_users > 0  # the full data is longer than train
    assert (seen.n_users, seen.n_items) == (data.n_users, data.n_items)
    for field in ("indptr", "items", "timestamps"):
        assert np.array_equal(getattr(seen.train, field), getattr(expected, field)), field
        assert np.array_equal(getattr(seen.train, field), getattr(split.train, field)), field
    for part in (split.valid, split.test):  # --repeats first: an item occurs once per user
        for user, targets in zip(part.users, part.targets, strict=True):
            assert not np.isin(targets, seen.train.row(user)).any(), user
    pop = records.read_ranks(records.record_path(tmp_path / "out", rec.run_id))["item_popularity"]
    counts = np.bincount(expected.items, minlength=data.n_items + 1)
    assert pop[0] == 0 and np.array_equal(pop, counts)
    assert not np.array_equal(pop, np.bincount(full.items, minlength=data.n_items + 1))


def test_param_reaches_the_model_and_changes_the_run_id(tmp_path):
    assert _run(tmp_path, "--models", "itemknn", "--param", "neighbours=5") == 0
    assert _run(tmp_path, "--models", "itemknn") == 0
    recs = records.read_records(tmp_path / "out")
    assert sorted(r.params["neighbours"] for r in recs)[0] == 5
    assert len({r.run_id for r in recs}) == 2


def test_plugin_model_runs_through_the_protocol(tmp_path, monkeypatch):
    plugin = tmp_path / "my_plugin_model.py"
    plugin.write_text(
        textwrap.dedent('''
        import dataclasses
        import torch
        from protocols.interface import Recommender
        from protocols.registry import register_model

        @register_model("plugin-last-item")
        class LastItem(Recommender):
            """Scores each item by how recently the user saw its neighbour id (a toy)."""

            @dataclasses.dataclass(frozen=True)
            class Params:
                bonus: float = 1.0

            def fit(self, data):
                self.n_items_ = data.n_items
                return self

            def score(self, batch):
                scores = torch.zeros(len(batch), self.n_items_ + 1)
                last = batch.sequences[:, -1]
                nxt = torch.clamp(last + 1, max=self.n_items_)
                scores[torch.arange(len(batch)), nxt] = self.params.bonus
                return scores
    ''')
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        registry.MODELS, "entries", dict(registry.MODELS.entries)
    )  # forget it afterwards
    assert (
        _run(
            tmp_path,
            "--models",
            "plugin-last-item",
            "--plugins",
            "my_plugin_model",
            "--param",
            "bonus=2",
        )
        == 0
    )
    rec = records.read_records(tmp_path / "out")[0]
    assert rec.model == "plugin-last-item" and rec.params == {"bonus": 2.0}
    sys.modules.pop("my_plugin_model", None)


@pytest.mark.slow
def test_a_plugin_may_use_a_built_in_model_at_import_time(tmp_path):
    # a fresh process, as a user starts it: the plugin is imported before any model was used
    (tmp_path / "pop_plugin.py").write_text(
        textwrap.dedent("""
        from protocols.registry import create_model, get_model_class, register_model

        create_model("pop")  # built-ins are registered before plugins are imported

        @register_model("plugin-pop")
        class PluginPop(get_model_class("pop")):
            pass
        """)
    )
    command = [sys.executable, "-m", "benchmark.run", "--dataset", SYNTH, "--models",
               "plugin-pop", "--plugins", "pop_plugin", "--seq-len", "10", "--num-negatives",
               "40", "--out",
               str(tmp_path / "out"), "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert records.read_records(tmp_path / "out")[0].model == "plugin-pop"
    command = records.read_provenance(tmp_path / "out")[0]["command"]  # as the user typed it
    assert command.startswith("python -m benchmark.run --dataset synthetic:")


def test_report_renders_all_formats(tmp_path, capsys):
    assert _run(tmp_path, "--models", "pop,itemknn") == 0
    assert report.main([str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "itemknn" in printed and "**" in printed
    tex = (tmp_path / "out" / "table.tex").read_text()
    assert "\\toprule" in tex and "\\textbf{" in tex
    csv_lines = (tmp_path / "out" / "table.csv").read_text().strip().splitlines()
    assert (
        csv_lines[0] == "setting,dataset,model,protocol,split,metric,mean,std,n,p_holm,significant"
    )
    assert len(csv_lines) == 1 + 2 * 6  # two models, six columns, one line per number


def test_record_json_is_plain_json(tmp_path):
    assert _run(tmp_path, "--models", "pop") == 0
    path = next((tmp_path / "out" / "runs").glob("*.json"))
    parsed = json.loads(path.read_text())
    assert isinstance(parsed["metrics"]["sampled"]["test"]["NDCG@10"], float)
    assert np.isfinite(parsed["timings"]["fit_seconds"])
    assert parsed["config"]["data"]["dataset"] == SYNTH and parsed["config"]["model"]["code"]


@pytest.mark.parametrize("split", ["temporal"])
def test_temporal_split_runs(tmp_path, split):
    assert _run(tmp_path, "--models", "pop", "--split", split) == 0
    rec = records.read_records(tmp_path / "out")[0]
    assert rec.protocol["split"] == "temporal" and "cutoff_timestamp" in rec.protocol["split_info"]


def test_records_hold_beyond_accuracy_estimates_and_analysis_inputs(tmp_path):
    assert _run(tmp_path, "--models", "pop,itemknn") == 0
    for rec in records.read_records(tmp_path / "out"):
        full = rec.metrics["full"]["test"]
        for name in ("coverage@10", "long_tail@10", "ARP@10", "Gini@10"):
            assert np.isfinite(full[name]), name
        assert 0 < full["coverage@10"] <= 1 and 0 <= full["long_tail@10"] <= 1
        est = rec.metrics["estimated_full"]["test"]["HR@10"]
        assert abs(est - full["HR@10"]) < abs(
            rec.metrics["sampled"]["test"]["HR@10"] - full["HR@10"]
        )
        ranks = records.read_ranks(records.record_path(tmp_path / "out", rec.run_id))
        assert ranks["targets.test"].shape == ranks["full.test"].shape
        assert len(ranks["history_lengths.test"]) == len(ranks["users.test"])


def test_no_estimate_from_popularity_drawn_negatives(tmp_path):
    """The estimate's hypergeometric model holds for uniform negatives only."""
    assert _run(tmp_path, "--models", "pop", "--negative-sampler", "popularity") == 0
    (rec,) = records.read_records(tmp_path / "out")
    assert rec.metrics["sampled"]["test"] and rec.metrics["estimated_full"] == {}


def test_report_analysis_writes_tables_and_figure(tmp_path, capsys):
    assert _run(tmp_path, "--models", "pop,itemknn", "--seeds", "0,1") == 0
    assert report.main([str(tmp_path / "out"), "--analysis"]) == 0
    out = tmp_path / "out"
    for name in (
        "analysis_popularity.md",
        "analysis_history.tex",
        "analysis.png",
        "sampled_vs_full.md",
    ):
        assert (out / name).stat().st_size > 0, name
    popularity = (out / "analysis_popularity.md").read_text()
    assert "HR@10 head" in popularity and "Q5" in popularity
    # pop recommends only the head: it never hits a long-tail target
    row = next(line for line in popularity.splitlines() if line.startswith("| pop "))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert float(cells[2]) == 0.0 or float(cells[2]) < float(cells[1])
    # n = test targets (one per user), counted once however many seeds are pooled
    users = records.read_records(out)[0].metrics["full"]["test"]["users"]
    head, tail = (
        int(re.search(rf"HR@10 {b} \(n=(\d+)\)", popularity)[1]) for b in ("head", "tail")
    )
    assert head + tail == users
    assert "means over n = 2 seeds" in popularity and "±" not in popularity


def test_report_only_keeps_matching_runs(tmp_path, capsys):
    assert _run(tmp_path, "--models", "pop,itemknn") == 0
    assert _run(tmp_path, "--models", "pop", "--alpha", "0.5") == 0
    assert report.main([str(tmp_path / "out"), "--only", "alpha=0.5"]) == 0
    printed = capsys.readouterr().out
    assert "pop (pop-penalty=0.5)" in printed and "itemknn" not in printed
    assert report.main([str(tmp_path / "out"), "--only", "alpha=3"]) == 2


PLUGIN = """
import dataclasses
import torch
from protocols.interface import Recommender
from protocols.registry import register_model

@register_model("plugin-bias")
class Bias(Recommender):
    @dataclasses.dataclass(frozen=True)
    class Params:
        bias: float = BIAS

    def fit(self, data):
        self.n_items_ = data.n_items
        return self

    def score(self, batch):
        scores = torch.arange(self.n_items_ + 1, dtype=torch.float32) * self.params.bias
        return scores.expand(len(batch), -1).clone()
"""


@pytest.fixture
def bias_plugin(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.MODELS, "entries", dict(registry.MODELS.entries))

    def write(bias: str) -> None:
        (tmp_path / "bias_plugin.py").write_text(PLUGIN.replace("BIAS", bias))
        sys.modules.pop("bias_plugin", None)
        registry.MODELS.entries.pop("plugin-bias", None)

    yield write
    sys.modules.pop("bias_plugin", None)


def test_changed_plugin_default_is_a_new_run_not_a_stale_record(tmp_path, bias_plugin):
    argv = ["--models", "plugin-bias", "--plugins", "bias_plugin"]
    bias_plugin("1.0")
    assert _run(tmp_path, *argv) == 0
    bias_plugin("-2.5")  # the default changed in the code; the command line did not
    assert _run(tmp_path, *argv) == 0
    recs = records.read_records(tmp_path / "out")
    assert sorted(r.params["bias"] for r in recs) == [-2.5, 1.0]
    assert len({r.code for r in recs}) == 2
    assert report.main([str(tmp_path / "out")]) == 2  # two codes of one model in one table


def test_nan_scores_end_with_one_line_and_exit_2(tmp_path, bias_plugin, capsys):
    bias_plugin("float('nan')")
    assert _run(tmp_path, "--models", "plugin-bias", "--plugins", "bias_plugin") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "NaN" in err[-1]
    assert not list((tmp_path / "out").glob("runs/*.json"))


def test_plugins_are_imported_before_help_lists_the_models(tmp_path, bias_plugin, capsys):
    bias_plugin("1.0")
    with pytest.raises(SystemExit):
        run.main(["--plugins", "bias_plugin", "--help"])
    assert "plugin-bias" in capsys.readouterr().out


def test_seeds_run_every_seed(tmp_path):
    assert _run(tmp_path, "--models", "pop", "--seeds", "0,1,2") == 0
    assert sorted(r.seed for r in records.read_records(tmp_path / "out")) == [0, 1, 2]


def test_experiment_file_expands_and_the_command_line_overrides(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(
        f'dataset = "{SYNTH}"\n'
        'models = ["pop", "itemknn"]\n'
        "seeds = [0, 1]\n"
        "seq_len = 8\n"
        "num_negatives = 50\n"
        "[params.itemknn]\n"
        "neighbours = 7\n"
    )
    out = tmp_path / "study"
    assert run.main(["--config", str(study), "--out", str(out), "--device", "cpu"]) == 0
    recs = records.read_records(out)
    assert sorted((r.model, r.seed) for r in recs) == [
        ("itemknn", 0), ("itemknn", 1), ("pop", 0), ("pop", 1),
    ]  # fmt: skip
    assert {r.params["neighbours"] for r in recs if r.model == "itemknn"} == {7}
    assert {r.config.protocol.seq_len for r in recs} == {8}
    flags = ["--config", str(study), "--out", str(out), "--models", "itemknn", "--seeds", "0"]
    assert run.main([*flags, "--param", "neighbours=3", "--num-negatives", "40"]) == 0
    newest = [r for r in records.read_records(out) if r.params.get("neighbours") == 3]
    assert len(newest) == 1 and newest[0].config.protocol.num_negatives == 40


def test_python_api_builds_runs_and_reads_records(tmp_path):
    config = build_config("itemknn", {"neighbours": 5}, dataset=SYNTH, seq_len=8, num_negatives=50)
    assert config.model.changed == ("neighbours",) and config.protocol.seq_len == 8
    (record,) = run_configs([config.replace(device="cpu")], str(tmp_path / "api"))
    assert record.metric("full", "test", "HR@10") == records.read_records(tmp_path / "api")[
        0
    ].metric("full", "test", "HR@10")


@pytest.mark.parametrize(
    "change",
    [{"num_negatives": 30}, {"negative_sampler": "popularity"}, {"split": "temporal"},
     {"repeats": "keep"}, {"dataset": SYNTH.replace("seed=3", "seed=4")}],
)  # fmt: skip
def test_each_part_of_the_candidate_key_gets_its_own_stored_file(tmp_path, monkeypatch, change):
    # pins: changing N, sampler, split, repeats or data stores a new file; equal configs reuse one
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "shared"))
    stored = tmp_path / "shared" / "candidates"
    base = build_config("pop", dataset=SYNTH, seq_len=8, num_negatives=50)
    other = base.replace(**change)
    first = prepare(base).negatives
    (path,) = stored.glob("*.npz")
    mtime = path.stat().st_mtime_ns
    again = prepare(base).negatives  # the same configuration: read back, nothing new
    assert list(stored.glob("*.npz")) == [path] and path.stat().st_mtime_ns == mtime
    for part in ("valid", "test"):
        assert again[part] is not first[part] and np.array_equal(again[part], first[part])
    served = prepare(other).negatives
    assert len(list(stored.glob("*.npz"))) == 2, change  # its own file
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "fresh"))  # drawn with nothing stored
    drawn = prepare(other).negatives
    for part in ("valid", "test"):
        assert np.array_equal(served[part], drawn[part]), (change, part)
        assert not np.array_equal(served[part], first[part]), (change, part)


def test_a_shortcut_flag_concerns_only_the_models_that_have_the_parameter(tmp_path):
    # `make benchmark MODELS=pop` passes the CPU budget (--max-seconds 240 --lr 5e-3): pop has
    # neither parameter, no error
    assert _run(tmp_path, "--models", "pop", "--max-seconds", "240", "--lr", "5e-3") == 0
    assert _run(tmp_path, "--models", "pop", "--epochs", "2") == 0
    assert records.read_records(tmp_path / "out")[0].model == "pop"
    assert _run(tmp_path, "--models", "pop", "--param", "epochs=2") == 2  # explicit: refused
