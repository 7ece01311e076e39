"""A run is identified by what it ran on: the content of its data and the code of its protocol.

The three reproductions of the audit (a file replaced under its name, two files of one name,
a saved model scored on other data) and a tuning folder kept to one version of its data.
"""

import inspect

import numpy as np
import pytest

from benchmark import models, records, run
from benchmark.report import command as report
from benchmark.tune import command as tune


def write_events(path, seed: int) -> str:
    """60 users x 12 events over 30 items, a different draw per seed."""
    rng = np.random.default_rng(seed)
    lines = ["user,item,timestamp"]
    for user in range(60):
        for t, item in enumerate(rng.choice(30, size=12, replace=False)):
            lines.append(f"{user},{item},{t}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return f"csv:{path}"


def _run(out, dataset, *extra):
    argv = ["--dataset", dataset, "--seq-len", "5", "--num-negatives", "10", "--ks", "5",
            "--device", "cpu", "--out", str(out), *extra]  # fmt: skip
    return run.main(argv)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:"), err
    return err


def test_a_replaced_file_is_a_new_run_and_never_pooled_with_the_old(tmp_path, capsys):
    data, out = write_events(tmp_path / "data.csv", 0), tmp_path / "out"
    assert _run(out, data, "--models", "pop") == 0
    write_events(tmp_path / "data.csv", 1)  # other events under the same name
    assert _run(out, data, "--models", "pop,itemknn") == 0
    pops = [r for r in records.read_records(out) if r.model == "pop"]
    assert len(pops) == 2  # run again, not "skipped, record exists"
    assert pops[0].dataset["sha256"] != pops[1].dataset["sha256"]
    capsys.readouterr()
    assert report.main([str(out)]) == 2  # never old-data pop beside new-data itemknn
    assert "two different data sets are both labelled 'data'" in _error(capsys)


def test_two_files_of_one_name_are_not_two_seeds_of_one_data_set(tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(out, write_events(tmp_path / "a" / "ratings.csv", 0), "--models", "pop") == 0
    assert _run(out, write_events(tmp_path / "b" / "ratings.csv", 1), "--models", "pop") == 0
    capsys.readouterr()
    assert report.main([str(out)]) == 2
    message = _error(capsys)
    assert str(tmp_path / "a" / "ratings.csv") in message
    assert str(tmp_path / "b" / "ratings.csv") in message


def test_a_saved_model_is_scored_only_on_the_data_it_was_fitted_on(tmp_path):
    data, out = write_events(tmp_path / "data.csv", 0), tmp_path / "out"
    assert _run(out, data, "--models", "itemknn") == 0
    (old,) = records.read_records(out)
    write_events(tmp_path / "data.csv", 1)  # same users and items, other events
    assert _run(out, data, "--models", "itemknn", "--alpha", "0.5") == 0
    penalised = next(r for r in records.read_records(out) if r.config.protocol.alpha)
    assert penalised.dataset["sha256"] != old.dataset["sha256"]
    assert penalised.reused_model_of != old.run_id  # fitted again on the new events


def test_a_tuning_folder_keeps_to_one_version_of_its_data(tmp_path, capsys):
    data, out = write_events(tmp_path / "data.csv", 0), tmp_path / "tuning"
    argv = ["--dataset", data, "--seq-len", "5", "--num-negatives", "10", "--ks", "5",
            "--device", "cpu", "--models", "itemknn", "--metric", "full:NDCG@5", "--trials", "2",
            "--out", str(out)]  # fmt: skip
    assert tune.main(argv) == 0
    write_events(tmp_path / "data.csv", 1)
    capsys.readouterr()
    assert tune.main([*argv[:-4], "--trials", "3", "--out", str(out)]) == 2
    assert "different set-up (fingerprint differ)" in _error(capsys)


@pytest.mark.parametrize("module", ["protocols.negatives", "benchmark.datasets.formats"])
def test_protocol_and_reader_code_count_in_every_model_fingerprint(monkeypatch, module):
    # a changed rule for candidates, targets, metrics or reading never reuses an old record
    before = {name: models.code_fingerprint(name) for name in ("pop", "gru")}
    real = inspect.getsource

    def edited(m):
        return real(m) + "# edited" if m.__name__ == module else real(m)

    monkeypatch.setattr(inspect, "getsource", edited)
    models._fingerprint.cache_clear()
    try:
        for name, fingerprint in before.items():
            assert models.code_fingerprint(name) != fingerprint
    finally:
        models._fingerprint.cache_clear()
