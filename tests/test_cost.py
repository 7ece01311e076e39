"""benchmark.cost: the expected time of a run or a study, measured on samples before it starts."""

import json

import numpy as np
import pytest

from benchmark import cost, records, run
from benchmark.experiment import configs_from_values, merged
from benchmark.pipeline import make_fit_data, prepare
from benchmark.tune import command as tune
from benchmark.tune import search
from benchmark.tune.estimate import DRAWN, drawn_params
from protocols.sequences import training_windows

SYNTH = "synthetic:n_users=120,n_items=80,n_clusters=6,mean_length=15,seed=3"
ARGS = ["--dataset", SYNTH, "--seq-len", "8", "--num-negatives", "40", "--device", "cpu"]


def _estimate(out):
    return json.loads((out / cost.ESTIMATE).read_text())


def test_run_estimate_runs_nothing_then_the_report_compares_it_with_the_records(tmp_path, capsys):
    out = tmp_path / "out"
    argv = [*ARGS, "--models", "pop,gru", "--epochs", "3", "--out", str(out)]
    assert run.main([*argv, "--estimate"]) == 0
    printed = capsys.readouterr().out
    assert "expected wall time with --jobs 1" in printed and "gru" in printed
    assert not (out / "runs").exists()  # nothing ran
    estimate = _estimate(out)
    gru = estimate["models"]["gru"]
    assert gru["epochs"] == 3 and gru["epochs_from"] == "the cap"
    assert gru["seconds"] > 0 and estimate["models"]["pop"]["epochs"] is None
    assert estimate["wall_seconds"] == pytest.approx(
        sum(m["seconds"] for m in estimate["models"].values())
    )
    assert run.main(argv) == 0
    ran = {p.stem for p in (out / "runs").glob("*.json")}
    planned = {i for m in estimate["models"].values() for i in m["runs"]}
    assert planned == ran  # the estimate covered exactly the runs that then ran
    table = cost.write_comparison(out)
    assert (out / "estimate.md").read_text() == table
    rows = [line for line in table.splitlines() if line.startswith("| gru")]
    actual = sum(
        records.read_record(records.record_path(out, i)).timings["fit_seconds"]
        + records.read_record(records.record_path(out, i)).timings["eval_seconds"]
        for i in gru["runs"]
    )
    assert rows and f"| {actual:.1f} |" in rows[0]


def test_expected_epochs_come_from_earlier_records_of_the_same_model_data_and_cap(tmp_path):
    out = tmp_path / "out"
    argv = [*ARGS, "--models", "gru", "--epochs", "4", "--patience", "1", "--out", str(out)]
    assert run.main(argv) == 0
    (record,) = [records.read_record(p) for p in (out / "runs").glob("*.json")]
    ran = len(record.training["history"])
    assert run.main([*argv, "--seed", "1", "--estimate"]) == 0
    gru = _estimate(out)["models"]["gru"]
    assert gru["epochs"] == ran and gru["epochs_from"] == "median of 1 earlier run(s)"
    assert run.main([*argv, "--seed", "1", "--patience", "3", "--estimate"]) == 0
    assert _estimate(out)["models"]["gru"]["epochs_from"] == "the cap"  # another stopping rule
    other_cap = tmp_path / "other"  # another cap: the earlier run says nothing about it
    assert run.main([*argv, "--epochs", "5", "--out", str(other_cap), "--estimate"]) == 0
    assert _estimate(other_cap)["models"]["gru"]["epochs_from"] == "the cap"


def test_a_step_budget_caps_the_expected_epochs_and_keeps_its_own_history(tmp_path):
    from seqmodels.train import batches_per_epoch

    out = tmp_path / "out"
    argv = [*ARGS, "--models", "gru", "--epochs", "50", "--out", str(out)]
    (config,) = configs_from_values(merged(run.parser().parse_args(argv)))
    prepared = prepare(config)
    data = make_fit_data(config, prepared.data, prepared.split)
    per_epoch = batches_per_epoch(len(training_windows(data.train, 8, True)[0]), 128)
    budget = ["--param", f"max_steps={per_epoch * 3 // 2}"]  # one and a half epochs
    assert run.main([*argv, *budget, "--estimate"]) == 0
    gru = _estimate(out)["models"]["gru"]
    assert gru["epochs"] == pytest.approx((per_epoch * 3 // 2) / per_epoch)
    assert gru["epochs_from"] == "the cap"
    assert run.main([*argv, *budget, "--patience", "0"]) == 0  # ran: two epochs, the second cut
    assert run.main([*argv, "--seed", "1", "--estimate"]) == 0  # no budget: its own cap
    assert _estimate(out)["models"]["gru"]["epochs"] == 50
    assert run.main([*argv, *budget, "--patience", "0", "--seed", "1", "--estimate"]) == 0
    assert _estimate(out)["models"]["gru"]["epochs_from"] == "median of 1 earlier run(s)"


def test_a_time_budget_caps_the_expected_epochs_at_the_measured_pace(tmp_path):
    out = tmp_path / "out"
    argv = [*ARGS, "--models", "gru", "--epochs", "50", "--out", str(out)]
    assert run.main([*argv, "--estimate"]) == 0
    full = _estimate(out)["models"]["gru"]
    per_epoch = full["fit_seconds"] / full["epochs"]
    budget = ["--param", f"max_seconds={per_epoch * 3}"]  # about three epochs at this pace
    assert run.main([*argv, *budget, "--estimate"]) == 0
    gru = _estimate(out)["models"]["gru"]
    assert gru["epochs_from"] == "the cap" and 1 <= gru["epochs"] < 50
    tiny = ["--param", "max_seconds=1e-9"]  # the first epoch always runs
    assert run.main([*argv, *tiny, "--estimate"]) == 0
    assert _estimate(out)["models"]["gru"]["epochs"] == 1


def test_a_sample_keeps_whole_users_every_index_and_the_catalogue(monkeypatch):
    monkeypatch.setattr(cost, "SAMPLE_WINDOWS", 50)
    monkeypatch.setattr(cost, "SAMPLE_USERS", 30)
    (config,) = configs_from_values(merged(run.parser().parse_args([*ARGS, "--models", "gru"])))
    prepared = prepare(config)
    data = make_fit_data(config, prepared.data, prepared.split)
    sample, window_share, valid_share = cost.sampled_fit_data(
        data,
        True,
        np.random.default_rng(0),
        len(training_windows(data.train, data.seq_len, True)[0]),
    )
    assert sample.train.n_rows == data.train.n_rows and sample.n_items == data.n_items
    kept = sample.train.lengths > 0
    assert 0 < kept.sum() < data.train.n_rows
    for r in np.flatnonzero(kept):  # a sampled user keeps the whole history
        assert np.array_equal(sample.train.row(r), data.train.row(r))
    windows = len(training_windows(sample.train, 8, True)[0])
    assert window_share == windows / len(training_windows(data.train, 8, True)[0])
    assert sample.valid.n_users == 30 and valid_share == 30 / data.valid.n_users
    assert set(sample.valid.users) <= set(data.valid.users)


def test_units_go_to_the_least_loaded_worker_longest_first():
    assert cost.wall_seconds([5, 4, 3, 3], 1) == 15
    assert cost.wall_seconds([5, 4, 3, 3], 2) == 8  # 5 + 3 and 4 + 3
    assert cost.wall_seconds([9, 1, 1], 4) == 9
    assert cost.wall_seconds([], 2) == 0


def test_tune_estimate_counts_the_remaining_trials_and_the_test_runs(tmp_path):
    out = tmp_path / "study"
    argv = [*ARGS, "--models", "pop,gru", "--epochs", "2", "--trials", "3", "--seeds", "0,1"]
    assert tune.main([*argv, "--out", str(out), "--estimate"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [cost.ESTIMATE]  # no study began
    estimate = _estimate(out)
    gru, pop = estimate["models"]["gru"], estimate["models"]["pop"]
    assert estimate["kind"] == "tune" and gru["trials"] == 3 and gru["test_runs"] == 4
    assert pop["trials"] == 1 and pop["test_runs"] == 2  # nothing to search: the default
    assert gru["seconds"] == pytest.approx(gru["search_seconds"] + gru["test_seconds"])
    # on the search's seed the trials' models are scored: only the seed-1 runs fit
    assert gru["reused_test_runs"] == 2
    default = gru["fit_seconds"] + 2 * gru["default_scoring_seconds"]
    chosen = gru["test_fit_seconds"] + 2 * gru["test_scoring_seconds"]  # not known: the drawn
    assert gru["test_seconds"] == pytest.approx(default + chosen)
    # the default is trial 0; the others are priced at configurations drawn from the space
    assert gru["drawn"] == len(gru["drawn_trial_seconds"]) == DRAWN
    assert pop["drawn"] == 0 and pop["drawn_trial_seconds"] == []
    drawn = sum(gru["drawn_trial_seconds"]) / DRAWN
    trials = gru["default_trial_seconds"] + 2 * drawn
    # the deep model's trials are priced at the share of epochs its pruner lets a search train
    assert gru["trained_share"] == search.TRAINED_SHARE["halving"] and pop["trained_share"] == 1
    assert gru["search_seconds"] == pytest.approx(trials * gru["trained_share"])
    assert gru["search_seconds"] == pytest.approx(3 * gru["trial_seconds"] * gru["trained_share"])
    assert tune.main([*argv, "--out", str(out), "--estimate", "--pruner", "median"]) == 0
    median = _estimate(out)["models"]["gru"]
    assert median["trained_share"] == search.TRAINED_SHARE["median"]
    assert tune.main([*argv, "--out", str(out)]) == 0
    assert "| gru |" in (out / "estimate.md").read_text()  # the study compared with it
    assert tune.main([*argv, "--out", str(out), "--estimate"]) == 0
    gru = _estimate(out)["models"]["gru"]
    assert gru["trials"] == 0 and gru["test_runs"] == 0  # all done: nothing remains
    assert gru["drawn"] == 0 and gru["seconds"] == 0  # and nothing drawn to price it


def test_the_estimate_draws_its_configurations_from_the_space_the_same_each_time():
    space = search.space_of("gru", {})
    drawn = drawn_params(space, seed=0)
    assert len(drawn) == DRAWN and drawn == drawn_params(space, seed=0)
    assert drawn != drawn_params(space, seed=1)
    for params in drawn:
        assert params.keys() == space.keys()
        for name, value in params.items():
            d = space[name]
            assert value in d.values if isinstance(d, search.Choice) else d.lo <= value <= d.hi


@pytest.mark.parametrize(
    "extra",
    [["--jobs", "0"], ["--models", "no-such-model"], ["--epochs", "0"]],
)
def test_an_estimate_of_bad_input_fails_in_one_line_and_writes_nothing(tmp_path, capsys, extra):
    out = tmp_path / "out"
    argv = [*ARGS, "--models", "gru", "--out", str(out), "--estimate"]
    try:
        code = run.main([*argv, *extra])
    except SystemExit as exit_info:  # a usage error
        code = exit_info.code
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_ablation_grid_is_estimated_as_units_sharing_one_fit(tmp_path):
    from benchmark import ablate

    out = tmp_path / "grid"
    argv = [*ARGS, "--param", "rerank:pop-penalty", "--values", "0,0.5", "--models", "gru"]
    argv += ["--epochs", "2", "--out", str(out)]
    assert ablate.main([*argv, "--estimate"]) == 0
    gru = _estimate(out)["models"]["gru"]
    assert len(gru["runs"]) == 2 and gru["fits"] == 1  # two strengths, one fitted model
    assert ablate.main(argv) == 0
    assert "| gru |" in (out / "estimate.md").read_text()


def test_evaluation_timed_on_a_sample_of_users_scales_to_all_of_them(monkeypatch, tmp_path):
    monkeypatch.setattr(cost, "SAMPLE_USERS", 20)  # fewer than the 120 test users
    out = tmp_path / "out"
    assert run.main([*ARGS, "--models", "pop", "--out", str(out), "--estimate"]) == 0
    assert _estimate(out)["models"]["pop"]["seconds"] > 0
