"""benchmark.tune.leaderboard: one study file, every data set tuned, resumable, tables written."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark import commands, pipeline
from benchmark.report import readme
from benchmark.tune import leaderboard, search
from benchmark.tune.tables import existing_records
from protocols.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
FIT_MODEL = pipeline.fit_model  # the real one, whatever a test patches in
SYNTH = "synthetic:n_users=120,n_items=80,n_clusters=6,mean_length=15,seed={}"


def _study(tmp_path, body: str = "", **datasets) -> Path:
    out = tmp_path / "board"
    entries = datasets or {"a": SYNTH.format(3), "b": SYNTH.format(4)}
    text = f'out = "{out}"\n' + (
        body
        or 'models = "pop,gru"\ntrials = 2\nepochs = 2\nseeds = [0, 1]\nseq_len = 8\n'
        'num_negatives = 40\ndevice = "cpu"\n'
    )
    for name, dataset in entries.items():
        text += f'\n[[datasets]]\nname = "{name}"\ndataset = "{dataset}"\n'
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def _fits(monkeypatch, fail_on=None, key=lambda config: config.data.dataset):
    """Count fits by data set (or `key`); raise KeyboardInterrupt at fit n of data set d
    (fail_on=(d, n))."""
    calls, real = [], pipeline.fit_model

    def fit(config, prepared, epoch_hooks=()):
        calls.append(key(config))
        if fail_on is not None and calls.count(fail_on[0]) == fail_on[1]:
            raise KeyboardInterrupt  # the process killed mid-way
        return real(config, prepared, epoch_hooks)

    monkeypatch.setattr(pipeline, "fit_model", fit)
    return calls


def test_every_data_set_is_tuned_and_tabulated_and_a_rerun_fits_nothing(tmp_path, monkeypatch):
    path = _study(tmp_path)
    calls = _fits(monkeypatch)
    assert leaderboard.main([str(path)]) == 0
    for name in ("a", "b"):
        folder = tmp_path / "board" / name
        best = json.loads((folder / "best.json").read_text())["models"]
        assert len(best["gru"]["test_runs"]) == 2 and best["gru"]["trials"] == 2
        table = (folder / "leaderboard.md").read_text()
        assert "gru" in table and "pop" in table and "± " in table  # two seeds: mean ± sd
        assert "| gru" in table and "gru (" not in table  # rows named by model; params: tuning.md
        assert "2 trials per model" in table and "capped at 2 epochs" in table
        rows = (folder / "leaderboard.csv").read_text().splitlines()
        assert rows[0].startswith("setting,dataset,model") and len(rows) > 1
    before = len(calls)
    assert leaderboard.main([str(path)]) == 0
    assert len(calls) == before  # finished trials and test runs are never redone


def test_the_readme_shows_each_tuned_data_set_as_a_column_with_its_budget_and_provenance(
    tmp_path,
):
    rng = np.random.default_rng(0)
    other = tmp_path / "other.txt"  # a second data set, under its own name (`other`)
    other.write_text("".join(f"{u} " + " ".join(map(str, rng.integers(1, 60, 12))) + "\n"
                             for u in range(1, 100)))  # fmt: skip
    path = _study(tmp_path, a=SYNTH.format(3), b=f"seq:{other}")
    assert leaderboard.main([str(path)]) == 0
    shown = (readme.Shown("board/a", tuned=True), readme.Shown("board/b", tuned=True))
    text = readme.block(root=tmp_path, shown=shown)
    header = next(line for line in text.splitlines() if line.startswith("| model"))
    assert header.count("full:NDCG@10") == 2  # one column per data set, one table
    assert sum(line.startswith("| gru ") for line in text.splitlines()) == 1
    assert "gru (" not in text  # rows named by model; the chosen parameters are in tuning.md
    assert text.count("every model tuned, objective full:NDCG@10") == 2
    assert "capped at 2 epochs" in text and "2 seeds" in text
    assert text.count("written by `python -m") == 2  # each folder's provenance.json
    assert "its data set's best baseline" in text
    assert text == readme.block(root=tmp_path, shown=shown)  # generated, so reproducible
    twice = (shown[0], readme.Shown("board/a", "again"))
    with pytest.raises(InputError, match="synthetic is already a column"):
        readme.block(root=tmp_path, shown=twice)


def test_jobs_on_the_command_line_reach_every_data_sets_search(tmp_path, monkeypatch):
    from benchmark.tune import command

    seen = []
    monkeypatch.setattr(command, "main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(leaderboard, "write_leaderboard", lambda folder: "")
    assert leaderboard.main([str(_study(tmp_path)), "--jobs", "2"]) == 0
    assert len(seen) == 2 and all(argv[argv.index("--jobs") + 1] == "2" for argv in seen)


def test_a_leaderboard_killed_mid_way_resumes_with_nothing_lost_or_duplicated(
    tmp_path, monkeypatch
):
    path = _study(tmp_path)
    _fits(monkeypatch, fail_on=(SYNTH.format(4), 3))  # in the second data set's search
    with pytest.raises(KeyboardInterrupt):
        leaderboard.main([str(path)])
    assert (tmp_path / "board" / "a" / "leaderboard.md").exists()
    assert not (tmp_path / "board" / "b" / "leaderboard.md").exists()
    again = _fits(monkeypatch)
    assert leaderboard.main([str(path)]) == 0
    assert SYNTH.format(3) not in again  # the finished data set is not fitted again
    for name in ("a", "b"):
        folder = tmp_path / "board" / name
        study = search.existing_study(folder, "gru")
        counted = [t for t in study.get_trials() if t.state in search.COUNTED]
        assert len(counted) == 2  # the budget, no trial twice
        assert len(list((folder / "trials").glob("gru-*.json"))) == len(
            [t for t in counted if t.state == search.TrialState.COMPLETE]
        )


def _clock_jumps_after(monkeypatch, fits: int) -> list:
    """Count fits; from fit number `fits` on, `--stop-after`'s deadline has passed."""
    calls, real = [], FIT_MODEL

    class Clock:  # what benchmark.commands.past reads
        @staticmethod
        def time() -> float:
            return time.time() + (1e9 if len(calls) >= fits else 0.0)

    def fit(config, prepared, epoch_hooks=()):
        calls.append(config.run_id())
        return real(config, prepared, epoch_hooks)

    monkeypatch.setattr(pipeline, "fit_model", fit)
    monkeypatch.setattr(commands, "time", Clock)
    return calls


def _outcome(folder: Path) -> dict:
    """What a finished data set chose and measured: parameters and test values per model."""
    best = json.loads((folder / "best.json").read_text())["models"]
    return {
        model: (
            entry["params"],
            [
                r.metric("full", "test", "NDCG@10")
                for r in existing_records(folder, entry["test_runs"])
            ],
        )
        for model, entry in best.items()
    }


@pytest.mark.parametrize("fits", [2, 5])  # in the first data set's search; in its test runs
def test_stop_after_ends_between_fits_and_the_same_command_resumes(tmp_path, monkeypatch, fits):
    whole = _clock_jumps_after(monkeypatch, fits=10**9)  # never: the run to compare with
    (tmp_path / "whole").mkdir()
    assert leaderboard.main([str(_study(tmp_path / "whole"))]) == 0
    path = _study(tmp_path)
    first = _clock_jumps_after(monkeypatch, fits)
    assert leaderboard.main([str(path), "--stop-after", "60"]) == commands.STOPPED
    assert len(first) == fits  # the fit under way finished; none began after the deadline
    assert not (tmp_path / "board" / "a" / "leaderboard.md").exists()
    assert not (tmp_path / "board" / "b").exists()
    again = _clock_jumps_after(monkeypatch, fits=10**9)
    assert leaderboard.main([str(path), "--stop-after", "60"]) == 0
    assert len(set(first + again)) == len(first + again)  # nothing fitted twice
    for name in ("a", "b"):
        study = search.existing_study(tmp_path / "board" / name, "gru")
        assert len([t for t in study.get_trials() if t.state in search.COUNTED]) == 2
    if fits == 5:  # stopped after the searches: the same trials, tests and tables as in one go
        assert sorted(first + again) == sorted(whole)
        for name in ("a", "b"):
            folder = tmp_path / "board" / name
            assert _outcome(folder) == _outcome(tmp_path / "whole" / "board" / name)


def test_a_model_whose_code_changed_is_searched_again_only_with_restart(
    tmp_path, monkeypatch, capsys
):
    from benchmark import models

    path = _study(tmp_path, a=SYNTH.format(3))
    assert leaderboard.main([str(path)]) == 0
    real = models.code_fingerprint
    edited = lambda name, loss=None: real(name, loss) + ("-edited" if name == "gru" else "")  # noqa: E731
    monkeypatch.setattr(models, "code_fingerprint", edited)
    capsys.readouterr()
    assert leaderboard.main([str(path)]) == 2  # refused, not resumed with the old trials
    assert "study of gru was searched with another model code" in capsys.readouterr().err
    runs = tmp_path / "board" / "a" / "runs"
    before = {p.name for p in runs.glob("*.json")}
    fitted = _fits(monkeypatch, key=lambda config: config.model.name)
    assert leaderboard.main([str(path), "--restart", "gru"]) == 0
    assert set(fitted) == {"gru"} and len(fitted) >= 2  # gru searched again; pop's runs kept
    study = search.existing_study(tmp_path / "board" / "a", "gru")
    assert study.user_attrs["code"].endswith("-edited") and len(study.trials) == 2
    # the old search's test runs are gone with it; pop's stay
    after = {p.name for p in runs.glob("*.json")}
    old_gru = {name for name in before if name.startswith("gru-")}
    assert old_gru and not old_gru & after and any(n.startswith("gru-") for n in after)
    assert {name for name in before if name.startswith("pop-")} <= after


def test_stop_after_must_not_be_negative(tmp_path, capsys):
    assert leaderboard.main([str(_study(tmp_path)), "--stop-after", "-1"]) == 2
    assert "--stop-after" in capsys.readouterr().err
    assert not (tmp_path / "board").exists()


def test_stop_after_zero_scores_the_kept_models_and_starts_nothing(tmp_path, monkeypatch):
    path = _study(tmp_path)
    assert leaderboard.main([str(path), "--only", "a"]) == 0
    runs = tmp_path / "board" / "a" / "runs"
    kept = [p.with_name(p.name.removesuffix(".model.pt") + ".json") for p in runs.glob("*.pt")]
    scored = {p: p.read_text() for p in kept}
    assert scored  # the seed-0 test runs reuse their trials' models
    for record in kept:  # a sitting killed before it scored them
        record.unlink()
    fitted = _fits(monkeypatch)
    assert leaderboard.main([str(path), "--stop-after", "0"]) == commands.STOPPED
    assert fitted == []  # nothing trained: the kept models scored only
    assert {p: p.read_text() for p in kept}.keys() == scored.keys()
    for p in kept:
        assert json.loads(p.read_text())["metrics"] == json.loads(scored[p])["metrics"]
    assert not (tmp_path / "board" / "b").exists()  # a data set not begun is not begun now


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('models = "pop,no-such-model"\n', "no-such-model"),
        ('models = "pop"\ntrials = 0\n', "--trials"),
        ('models = "pop"\nseeds = []\n', "seeds"),
        ('models = "pop"\nno_such_option = 1\n', "no-such-option"),
    ],
)
def test_a_bad_study_file_fails_in_one_line_and_writes_nothing(tmp_path, capsys, body, message):
    path = _study(tmp_path, body + 'device = "cpu"\n')
    try:
        code = leaderboard.main([str(path)])
    except SystemExit as exit_info:  # an unknown option: argparse's usage error
        code = exit_info.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "board").exists()


def test_an_unknown_data_set_in_the_last_entry_stops_everything_before_it_runs(tmp_path):
    path = _study(tmp_path, a=SYNTH.format(3), b="no-such-data-set")
    assert leaderboard.main([str(path)]) == 2
    assert not (tmp_path / "board").exists()


def test_the_committed_study_file_names_every_data_set_of_the_issue():
    study = leaderboard.read_study(ROOT / "studies" / "leaderboard.toml")
    assert [d["dataset"] for d in study["datasets"]] == [
        "ml-100k",
        "ml-1m",
        "s3rec-lastfm",
        "s3rec-beauty",
    ]
    assert study["models"] == "all" and len(study["seeds"]) == 3


def test_the_pruner_comparison_searches_ml_100k_three_seeds_per_pruner():
    study = leaderboard.read_study(ROOT / "studies" / "pruners-ml-100k.toml")
    arms = sorted((d["pruner"], d["seed"], tuple(d["seeds"])) for d in study["datasets"])
    pruners = ("halving", "hyperband", "median")
    assert arms == [(p, s, (s,)) for p in pruners for s in (0, 1, 2)]
    assert {d["dataset"] for d in study["datasets"]} == {"ml-100k"}


def test_only_runs_the_named_data_sets_and_an_unknown_name_fails_before_anything_runs(
    tmp_path, monkeypatch, capsys
):
    path = _study(tmp_path)
    assert leaderboard.main([str(path), "--only", "no-such-name"]) == 2
    assert "not a data set of" in capsys.readouterr().err
    assert not (tmp_path / "board").exists()
    calls = _fits(monkeypatch)
    assert leaderboard.main([str(path), "--only", "b"]) == 0
    assert set(calls) == {SYNTH.format(4)}
    assert (tmp_path / "board" / "b" / "leaderboard.md").exists()
    assert not (tmp_path / "board" / "a").exists()
