"""benchmark.tune: equal-budget searches on validation only, resumable, with the default first."""

import csv
import dataclasses
import datetime
import hashlib
import json
import time
import types

import optuna
import pytest

from benchmark import commands, cost, models, pipeline, records, run
from benchmark.models import get_model_class, list_models, model_param_fields
from benchmark.tune import command as tune
from benchmark.tune import search
from benchmark.tune import status as tune_status
from benchmark.tune import tables as tuning_tables
from benchmark.tune.best import tuned_params
from protocols import registry
from protocols.interface import Recommender
from protocols.search_space import Int

SYNTH = "synthetic:n_users=120,n_items=80,n_clusters=6,mean_length=15,seed=3"


def _tune(out, *extra):
    argv = ["--dataset", SYNTH, "--seq-len", "8", "--num-negatives", "40", "--device", "cpu"]
    return tune.main([*argv, "--out", str(out), *extra])


def _study(out, model):
    return search.existing_study(out, model)


def _states(out, model):
    return [t.state for t in _study(out, model).get_trials()]


def _snapshot(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _count_fits(monkeypatch, fail_at=None):
    """Count calls of pipeline.fit_model; raise KeyboardInterrupt at call `fail_at`."""
    calls, real = [], pipeline.fit_model

    def fit(config, prepared, epoch_hooks=()):
        calls.append(dict(config.model.params))
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        return real(config, prepared, epoch_hooks)

    monkeypatch.setattr(pipeline, "fit_model", fit)
    return calls


def test_every_model_declares_a_space_holding_its_default():
    for name in list_models():
        space = getattr(get_model_class(name), "search_space", None)
        assert space is not None, name
        defaults = get_model_class(name).Params()
        for field, domain in space.items():
            assert field in model_param_fields(name), (name, field)
            assert domain.contains(getattr(defaults, field)), (name, field)
    assert get_model_class("pop").search_space == {}
    assert {"lr", "emb_dim", "dropout", "weight_decay", "batch_size", "blocks"} <= set(
        get_model_class("sasrec").search_space
    )
    assert {"blocks", "heads", "mask_prob"} <= set(get_model_class("bert4rec").search_space)


def test_tiny_search_finishes_default_first_test_only_in_runs(tmp_path):
    out = tmp_path / "out"
    assert _tune(out, "--models", "pop,itemknn,personal-topk", "--trials", "4") == 0
    best = json.loads((out / "best.json").read_text())
    assert best["models"]["pop"]["trials"] == 1  # nothing to tune: the default, once
    for model in ("itemknn", "personal-topk"):
        entry = best["models"][model]
        assert entry["trials"] == 4 and entry["sampler"]["seed"] == 0 and entry["space"]
        first = min(_study(out, model).get_trials(), key=lambda t: t.number)
        defaults = get_model_class(model).Params()
        assert first.user_attrs["default"] and first.number == 0
        assert first.params == {k: getattr(defaults, k) for k in first.params}
        assert entry["valid"] >= entry["default_valid"] == first.value
        assert entry["valid"] == max(t.value for t in _study(out, model).get_trials())
    # trials: validation metrics only, in records and in the saved ranks
    trial_files = sorted((out / "trials").glob("*.json"))
    assert len(trial_files) == 1 + 4 + 4
    for path in trial_files:
        record = records.read_record(path)
        for protocol in record.metrics.values():
            assert set(protocol) <= {"valid"}
        assert not any(".test" in key for key in records.read_ranks(path))
    # the tuned configuration of each model, scored on test as an ordinary run
    for model, entry in best["models"].items():
        (run_id,) = entry["test_runs"]
        record = records.read_record(records.record_path(out, run_id))
        assert record.metric("full", "test", "HR@10") >= 0
        assert record.metric("full", "valid", "HR@10") is not None
        assert {k: record.params[k] for k in entry["params"]} == entry["params"]
        # and the default configuration beside it (the same run where it won)
        (default_id,) = entry["default_test_runs"]
        default = records.read_record(records.record_path(out, default_id))
        assert default.params == dataclasses.asdict(get_model_class(model).Params())
        assert (default_id == run_id) == (entry["valid"] == entry["default_valid"])
        assert entry["refit_valid"] == entry["valid"]  # the model scored on test is the chosen one
    for suffix in ("md", "tex", "csv"):
        assert "itemknn" in (out / f"tuning.{suffix}").read_text()
    header, *rows = csv.reader((out / "tuning.csv").read_text().splitlines())
    assert header[3] == "default test full:NDCG@10"
    column = header.index("p, tuned vs default test full:NDCG@10")
    for row in rows:  # a p-value where tuning chose another configuration, else a dash
        entry = best["models"][row[0]]
        if entry["test_runs"] == entry["default_test_runs"]:
            assert row[column] == "—"
        else:
            assert 0 <= float(row[column]) <= 1


def test_the_test_run_on_the_search_seed_scores_the_trial_model_instead_of_a_refit(
    tmp_path, monkeypatch
):
    out = tmp_path / "out"
    fits = _count_fits(monkeypatch)
    assert _tune(out, "--models", "gru", "--trials", "3", "--epochs", "2", "--seeds", "0,1") == 0
    entry = json.loads((out / "best.json").read_text())["models"]["gru"]
    test_configs = {*entry["test_runs"], *entry["default_test_runs"]}
    tests = {i: records.read_record(records.record_path(out, i)) for i in test_configs}
    on_seed_1 = [i for i, record in tests.items() if record.seed == 1]
    assert len(fits) == 3 + len(on_seed_1)  # the trials, then only the seed-1 test runs
    for run_id, record in tests.items():
        if record.seed == 0:  # the trial's own model, so its validation value is the trial's
            assert record.reused_model_of == run_id and record.timings["fit_seconds"] == 0
        else:
            assert record.reused_model_of is None and record.timings["fit_seconds"] > 0
    assert entry["refit_valid"] == entry["valid"]
    # the models of trials no test run used are gone; the test runs' own are kept
    kept = {p.name.removesuffix(".model.pt") for p in (out / "runs").glob("*.model.pt")}
    assert kept == test_configs


def test_a_stopped_search_scores_its_kept_default_so_a_new_checkout_refits_it_not(
    tmp_path, monkeypatch
):
    out = tmp_path / "out"
    argv = ["--models", "gru", "--trials", "3", "--epochs", "2", "--seeds", "0,1"]
    fits = _count_fits(monkeypatch)

    class Clock:  # what benchmark.commands.past reads: the deadline passes after one fit
        @staticmethod
        def time() -> float:
            return time.time() + (1e9 if fits else 0.0)

    monkeypatch.setattr(commands, "time", Clock)
    assert _tune(out, *argv, "--stop-after", "60") == commands.STOPPED
    assert len(fits) == 1  # the default, trial 0; its test run on the search's seed is scored
    (default_run,) = [p for p in (out / "runs").glob("*.json")]
    record = records.read_record(default_run)
    assert (record.seed, record.reused_model_of) == (0, record.run_id)
    for model in (out / "runs").glob("*.model.pt"):  # a new checkout: no model files
        model.unlink()
    monkeypatch.setattr(commands, "time", time)
    fits = _count_fits(monkeypatch)
    assert _tune(out, *argv) == 0
    entry = json.loads((out / "best.json").read_text())["models"]["gru"]
    assert entry["default_test_runs"][0] == record.run_id
    seed_1 = {entry["test_runs"][1], entry["default_test_runs"][1]}
    assert len(fits) == 2 + len(seed_1)  # the two other trials and the seed-1 test runs


def test_default_seeds_limit_the_default_test_runs_and_the_estimate_counts_them(
    tmp_path, monkeypatch
):
    out = tmp_path / "out"
    argv = ["--models", "gru", "--trials", "3", "--epochs", "2", "--seeds", "0,1,2"]
    assert _tune(out, *argv, "--default-seeds", "0", "--estimate") == 0
    estimated = json.loads((out / "estimate.json").read_text())["models"]["gru"]
    assert (estimated["test_runs"], estimated["reused_test_runs"]) == (4, 2)  # 3 + default's 1
    fits = _count_fits(monkeypatch)
    assert _tune(out, *argv, "--default-seeds", "0") == 0
    entry = json.loads((out / "best.json").read_text())["models"]["gru"]
    default_runs = [
        records.read_record(records.record_path(out, i)) for i in entry["default_test_runs"]
    ]
    assert [r.seed for r in default_runs] == [0] and len(entry["test_runs"]) == 3
    assert len(fits) == 3 + 2  # the trials and the chosen configuration's seeds 1 and 2
    # the default chosen: its one test run is among the chosen's, so no p-value against itself
    best = json.loads((out / "best.json").read_text())
    best["models"]["gru"]["test_runs"][0] = entry["default_test_runs"][0]
    assert "gru" not in tuning_tables.tuning_p_values(out, best, "full:NDCG@10")


def test_one_worker_one_seed_gives_the_same_search_twice(tmp_path):
    bests = []
    for name in ("a", "b"):
        assert _tune(tmp_path / name, "--models", "personal-topk", "--trials", "5") == 0
        trials = _study(tmp_path / name, "personal-topk").get_trials()
        bests.append(
            (
                json.loads((tmp_path / name / "best.json").read_text())["models"],
                [t.params for t in trials],
            )
        )
    (first, first_trials), (second, second_trials) = bests
    assert first_trials == second_trials and len(first_trials) == 5
    assert first["personal-topk"]["params"] == second["personal-topk"]["params"]


def test_interrupted_search_resumes_to_the_same_total(tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = _count_fits(monkeypatch, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        _tune(out, "--models", "itemknn", "--trials", "5")
    assert _states(out, "itemknn").count(optuna.trial.TrialState.COMPLETE) == 2
    # a worker killed outright leaves a running trial behind, perhaps with its record
    # written: neither may count
    killed = _study(out, "itemknn").ask().number
    search.trial_path(out, "itemknn", killed).write_text("{}")
    calls = _count_fits(monkeypatch)
    assert _tune(out, "--models", "itemknn", "--trials", "5") == 0
    # the three missing trials; the test runs, on the search's seed, score the trials' models
    assert len(calls) == 3
    trials = _study(out, "itemknn").get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 5 and len(list((out / "trials").glob("*.json"))) == 5
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 5  # nothing repeated
    assert sum(t.user_attrs.get("default", False) for t in trials) == 1


def test_same_budget_adds_nothing_and_a_larger_one_only_the_missing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "2") == 0
    journal = (out / search.JOURNAL).read_bytes()
    calls = _count_fits(monkeypatch)
    assert _tune(out, "--models", "itemknn", "--trials", "2") == 0
    assert calls == [] and (out / search.JOURNAL).read_bytes() == journal
    assert _tune(out, "--models", "itemknn", "--trials", "4") == 0
    assert len(_states(out, "itemknn")) == 4
    assert json.loads((out / "best.json").read_text())["models"]["itemknn"]["trials"] == 4


def test_restart_searches_one_model_again_and_keeps_the_others(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert _tune(out, "--models", "pop,itemknn", "--trials", "3") == 0
    pop_trials = [t.datetime_start for t in _study(out, "pop").get_trials()]
    # a test run best.json does not list, as left by a study stopped before its test runs ended
    (out / "runs" / "itemknn-0123456789ab.json").write_text("{}")
    before = {p.name for p in (out / "runs").iterdir()}
    monkeypatch.setattr(get_model_class("itemknn"), "search_space", {"neighbours": Int(90, 110)})
    assert _tune(out, "--models", "pop,itemknn", "--trials", "3") == 2  # another space: refused
    assert _tune(out, "--models", "pop,itemknn", "--trials", "2", "--restart", "itemknn") == 0
    trials = _study(out, "itemknn").get_trials()
    assert len(trials) == 2 and all(90 <= t.params["neighbours"] <= 110 for t in trials)
    assert len(list((out / "trials").glob("itemknn-*.json"))) == 2
    assert [t.datetime_start for t in _study(out, "pop").get_trials()] == pop_trials
    after = {p.name for p in (out / "runs").iterdir()}
    assert "itemknn-0123456789ab.json" not in after  # gone with the old search
    kept = {n for n in before if n.startswith("pop-")}
    assert kept and kept <= after
    best = json.loads((out / "best.json").read_text())["models"]
    assert best["itemknn"]["trials"] == 2 and best["itemknn"]["space"] == {
        "neighbours": {"type": "Int", "lo": 90, "hi": 110, "log": False}
    }


def test_a_worker_goes_on_to_the_next_model_while_another_runs_the_last_trial(
    tmp_path, monkeypatch
):
    out, real = tmp_path / "out", search.prepare_study

    def prepare(s):  # itemknn's default is claimed by a worker elsewhere and still running
        study = real(s)
        if s.base.model.name == "itemknn":
            study.ask()
        return study

    monkeypatch.setattr(search, "prepare_study", prepare)
    assert _tune(out, "--models", "itemknn,personal-topk", "--trials", "2") == 0
    running, done = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.COMPLETE
    assert _states(out, "itemknn") == [running, done]  # the worker never waited for trial 0
    assert _states(out, "personal-topk") == [done, done]


def test_timeout_caps_the_time_trials_run_across_invocations(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "4", "--timeout-minutes", "1e-6") == 0
    best = json.loads((out / "best.json").read_text())["models"]["itemknn"]
    assert best["trials"] == 1 and best["timeout_minutes"] == 1e-6 and best["wall_seconds"] > 0
    calls = _count_fits(monkeypatch)  # resumed with the cap used up: no new trial
    assert _tune(out, "--models", "itemknn", "--trials", "4", "--timeout-minutes", "1e-6") == 0
    assert len(_states(out, "itemknn")) == 1 and len(calls) == 0
    assert _tune(out, "--models", "itemknn", "--trials", "4") == 0  # no cap: the budget
    assert len(_states(out, "itemknn")) == 4


def test_status_reads_a_search_in_progress_and_changes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert _tune(out, "--models", "pop,itemknn", "--trials", "3") == 0
    _study(out, "itemknn").ask()  # a trial some worker is running now
    before = _snapshot(out)
    rows = {row[0]: row for row in tune_status.status_rows(out)}
    assert list(rows) == ["pop", "itemknn"]
    assert rows["itemknn"][1:5] == [3, 0, 1, 0]  # finished, pruned, running, failed
    best = json.loads((out / "best.json").read_text())["models"]["itemknn"]
    assert rows["itemknn"][5] == f"{best['valid']:.4f} (trial {best['best_trial']})"
    assert rows["pop"][1:5] == [1, 0, 0, 0]
    assert _snapshot(out) == before
    assert tune_status.main([str(tmp_path / "none")]) == 2
    assert "no study.journal" in capsys.readouterr().err


def test_status_lists_the_seeds_whose_chosen_configuration_has_a_test_record(tmp_path):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "3", "--seeds", "0,1") == 0
    assert tune_status.status_rows(out)[0][8] == "0, 1"
    for path in (out / "runs").glob("*.json"):
        if records.read_record(path).seed == 1:
            path.unlink()  # as if the sitting had stopped before seed 1's test run
    assert tune_status.status_rows(out)[0][8] == "0"
    (out / "best.json").unlink()  # the searches have not chosen yet
    assert tune_status.status_rows(out)[0][8] == ""


def test_wall_time_counts_side_by_side_trials_once_and_the_summed_time_each():
    start = datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc)

    def ran(begin, end):
        return types.SimpleNamespace(
            datetime_start=start + datetime.timedelta(seconds=begin),
            datetime_complete=start + datetime.timedelta(seconds=end),
        )

    trials = [ran(0, 10), ran(5, 15), ran(20, 25)]  # two workers, then one
    assert search.active_seconds(trials, now=0) == 20
    assert search.summed_seconds(trials) == 25


def test_the_estimate_is_compared_with_the_searches_summed_trial_time(tmp_path):
    out = tmp_path / "out"
    argv = ["--models", "itemknn", "--trials", "2", "--seeds", "0"]
    assert _tune(out, *argv, "--estimate") == 0
    assert _tune(out, *argv) == 0
    best = json.loads((out / "best.json").read_text())
    trials = _study(out, "itemknn").get_trials()
    assert best["models"]["itemknn"]["trial_seconds"] == pytest.approx(
        search.summed_seconds(trials)
    )
    best["models"]["itemknn"] |= {"trial_seconds": 1234.5, "wall_seconds": 617.2}  # two workers
    (out / "best.json").write_text(json.dumps(best))
    (row,) = [r for r in cost.comparison(out).splitlines() if r.startswith("| itemknn")]
    assert "| 1234.5 |" in row


def test_wall_time_is_the_union_of_the_trials_running_spans():
    assert search.union_length([]) == 0
    assert search.union_length([(0, 10), (5, 15), (20, 25)]) == 20  # overlap counted once
    assert search.union_length([(2, 3), (0, 10)]) == 10  # nested
    assert search.union_length([(0, 1), (1, 2)]) == 2


def test_deep_model_trials_report_every_epoch(tmp_path):
    out = tmp_path / "out"
    assert _tune(out, "--models", "gru", "--trials", "2", "--epochs", "2", "--emb-dim", "16") == 0
    trials = _study(out, "gru").get_trials()
    assert [sorted(t.intermediate_values) for t in trials] == [[1, 2], [1, 2]]
    assert all(t.params.get("emb_dim") is None for t in trials)  # fixed on the command line
    entry = json.loads((out / "best.json").read_text())["models"]["gru"]
    assert entry["fixed"]["epochs"] == 2
    assert entry["refit_valid"] == entry["valid"]  # a deep fit on the CPU is reproduced exactly


def test_a_refit_that_differs_from_its_trial_is_reported(tmp_path, monkeypatch, caplog):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "2") == 0
    entry = json.loads((out / "best.json").read_text())["models"]["itemknn"]
    run_id = entry["test_runs"][0]
    monkeypatch.setattr(search, "validation_value", lambda record, metric: entry["valid"] / 2)
    with caplog.at_level("WARNING", logger="benchmark.tune"):
        assert tune.refit_valid(out, "itemknn", run_id, entry) == entry["valid"] / 2
    assert "not deterministic" in caplog.text


class _Hopeless:
    """A trial its pruner would stop at every epoch."""

    def __init__(self, default=False):
        self.reported, self.user_attrs = [], {"default": True} if default else {}

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return True


def test_pruning_hook_stops_a_hopeless_trial_but_never_the_default():
    trial = _Hopeless()
    with pytest.raises(optuna.TrialPruned):
        search._pruning_hook(trial)(None, {"epoch": 3, "valid_NDCG@10": 0.1})
    assert trial.reported == [(3, 0.1)]
    default = _Hopeless(default=True)
    for epoch in (1, 2, 3):  # trains to the full budget, reported all the same
        search._pruning_hook(default)(None, {"epoch": epoch, "valid_NDCG@10": 0.1})
    assert [step for step, _ in default.reported] == [1, 2, 3]


def test_hyperband_search_records_its_pruner_and_the_epochs_trained(tmp_path):
    out = tmp_path / "out"
    argv = ["--models", "gru", "--trials", "4", "--epochs", "3", "--pruner", "hyperband"]
    assert _tune(out, *argv) == 0
    entry = json.loads((out / "best.json").read_text())["models"]["gru"]
    assert entry["pruner"]["name"] == "HyperbandPruner"
    trials = _study(out, "gru").get_trials()
    assert entry["epoch_units"] == sum(len(t.intermediate_values) for t in trials)
    assert len(trials[0].intermediate_values) == 3  # the default ran to the cap
    assert "Hyperband" in (out / "tuning.md").read_text()
    assert _tune(out, *argv[:-1], "median") == 2  # a study keeps its pruner


def test_successive_halving_waits_for_its_first_rung_then_keeps_the_best_third():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=search.make_pruner("halving", 30))
    for value in (0.30, 0.20, 0.10):  # three trials reach the first rung (epoch 3)
        trial = study.ask()
        for epoch in (1, 2, 3):
            trial.report(value, epoch)
            trial.should_prune()  # as the trainer's hook asks: records the rung's value
        study.tell(trial, value)
    late = study.ask()
    verdicts = []
    for epoch in (1, 2, 3):
        late.report(0.15, epoch)  # below the best third at the rung
        verdicts.append(late.should_prune())
    assert verdicts == [False, False, True]  # no rung before the median's warm-up of 3 epochs
    best = study.ask()
    for epoch in (1, 2, 3):
        best.report(0.40, epoch)
    assert not best.should_prune()


def test_halving_search_records_its_pruner(tmp_path):
    out = tmp_path / "out"
    assert (
        _tune(out, "--models", "gru", "--trials", "3", "--epochs", "3", "--pruner", "halving") == 0
    )
    entry = json.loads((out / "best.json").read_text())["models"]["gru"]
    assert entry["pruner"]["name"] == "SuccessiveHalvingPruner"
    assert "successive halving" in (out / "tuning.md").read_text()


def test_local_workers_share_one_study(tmp_path):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "4", "--jobs", "2") == 0
    trials = _study(out, "itemknn").get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert len(list((out / "trials").glob("itemknn-*.json"))) == 4


@pytest.mark.slow
def test_ray_workers_share_one_study(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "out"
    argv = ("--models", "itemknn", "--trials", "3", "--jobs", "2", "--executor", "ray")
    assert _tune(out, *argv) == 0
    trials = _study(out, "itemknn").get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert sum(bool(t.user_attrs.get("default")) for t in trials) == 1
    best = json.loads((out / "best.json").read_text())["models"]["itemknn"]
    tests = {*best["test_runs"], *best["default_test_runs"]}  # chosen and default on test
    assert {r.run_id for r in records.read_records(out)} == tests


def test_tuned_parameters_are_applied_and_explicit_ones_win(tmp_path):
    out = tmp_path / "tuned"
    assert _tune(out, "--models", "itemknn", "--trials", "3") == 0
    best = tuned_params(out)["itemknn"]
    base = ["--dataset", SYNTH, "--seq-len", "8", "--num-negatives", "40", "--device", "cpu"]
    runs = tmp_path / "runs"
    assert run.main([*base, "--models", "itemknn", "--tuned", str(out), "--out", str(runs)]) == 0
    (record,) = records.read_records(runs)
    assert {k: record.params[k] for k in best} == best and best
    argv = [*base, "--models", "itemknn", "--tuned", str(out), "--param", "neighbours=7"]
    assert run.main([*argv, "--out", str(tmp_path / "explicit")]) == 0
    assert records.read_records(tmp_path / "explicit")[0].params["neighbours"] == 7
    assert run.main([*base, "--models", "pop", "--tuned", str(out), "--out", str(runs)]) == 2


@dataclasses.dataclass(frozen=True)
class _NoParams:
    bonus: float = 1.0


@pytest.mark.parametrize(
    "extra",
    [
        ("--models", "itemknn", "--trials", "0"),
        ("--models", "itemknn", "--metric", "full:NDCG@7"),
        ("--models", "itemknn", "--metric", "test:NDCG@10"),
        ("--models", "no-space"),
        ("--models", "itemknn", "--dataset", "synthetic:n_users=90,seed=4"),
        ("--models", "itemknn", "--seed", "1"),
        ("--models", "itemknn", "--param", "neighbours=5"),
        ("--models", "itemknn", "--restart", "gru"),
        ("--models", "itemknn", "--default-seeds", "a"),
        ("--models", "itemknn", "--default-seeds", ","),
    ],
)
def test_bad_input_is_one_line_exit_2_and_out_untouched(tmp_path, monkeypatch, capsys, extra):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "2") == 0
    monkeypatch.setattr(
        registry.MODELS, "entries", dict(registry.MODELS.entries)
    )  # forget it afterwards

    @registry.register_model("no-space")
    class NoSpace(Recommender):  # a plugin without a search space
        Params = _NoParams

        def fit(self, data):
            return self

        def score(self, batch):
            raise AssertionError("never scored")

    before = _snapshot(out)
    capsys.readouterr()
    assert _tune(out, "--trials", "2", *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:")
    assert _snapshot(out) == before


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:"), err
    return err


def test_a_model_whose_code_changed_is_not_resumed(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert _tune(out, "--models", "itemknn", "--trials", "2") == 0
    before = _snapshot(out)
    monkeypatch.setattr(models, "code_fingerprint", lambda name, loss=None: "seqrec-bench / edited")
    capsys.readouterr()
    assert _tune(out, "--models", "itemknn", "--trials", "3") == 2
    assert "model code" in _one_error_line(capsys) and _snapshot(out) == before
    assert _tune(out, "--models", "itemknn", "--trials", "2", "--restart", "itemknn") == 0
    assert _study(out, "itemknn").user_attrs["code"] == "seqrec-bench / edited"


def test_a_malformed_manifest_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for text in ("{}", "[]", '{"config": 3}', "not json"):
        (out / tune.MANIFEST).write_text(text)
        capsys.readouterr()
        assert _tune(out, "--models", "itemknn", "--trials", "2") == 2
        assert "not a study manifest" in _one_error_line(capsys)


def test_a_study_begun_by_another_command_meanwhile_is_refused(tmp_path, monkeypatch, capsys):
    """The set-up is checked again once the OUT's lock is held: a command that began on
    another data set while this one was loading its data must not share its studies."""
    from benchmark import executors

    out, real, began = tmp_path / "out", executors.prepare_all, []

    def prepare_while_another_command_begins(configs, loaded=None):
        result = real(configs, loaded)
        if not began:  # the other command, on seed 5, runs to its end
            began.append(True)
            assert _tune(out, "--models", "itemknn", "--trials", "2", "--seed", "5") == 0
        return result

    monkeypatch.setattr(executors, "prepare_all", prepare_while_another_command_begins)
    capsys.readouterr()
    assert _tune(out, "--models", "itemknn", "--trials", "2") == 2
    assert "different set-up (seed differ)" in _one_error_line(capsys)
    assert len(_study(out, "itemknn").get_trials()) == 2


def test_an_experiment_file_cannot_bring_tuned_parameters(tmp_path, capsys):
    study = tmp_path / "study.toml"
    study.write_text(f'tuned = "{tmp_path / "elsewhere"}"\n')
    capsys.readouterr()
    assert _tune(tmp_path / "out", "--config", str(study), "--models", "itemknn") == 2
    assert "no `tuned` folder" in _one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_tuned_refuses_a_folder_without_a_readable_best_json(tmp_path, capsys):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "best.json").write_text('{"models": {"itemknn": {"params": 3}}}')
    base = ["--dataset", SYNTH, "--models", "itemknn", "--device", "cpu"]
    for folder in ("missing", "bad"):
        capsys.readouterr()
        argv = [*base, "--tuned", str(tmp_path / folder), "--out", str(tmp_path / "runs")]
        assert run.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--tuned" in err
    assert not (tmp_path / "runs").exists()
