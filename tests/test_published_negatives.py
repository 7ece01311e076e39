"""--negatives-file: the S3-Rec sampled protocol exactly (the target against each user's
published negatives), checked against a figure computed by hand, and refused when the file
does not fit the data."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmark import records, run
from benchmark.datasets import DATASETS, data_root

SEQ = "1 1 2 3 4 5\n2 2 3 4 6 7\n3 1 3 5 7 8\n"  # users 1-3, items 1-8


def _run(tmp_path, dataset, *extra):
    argv = ["--dataset", dataset, "--models", "pop", "--seq-len", "5", "--ks", "1,3",
            "--device", "cpu", "--out", str(tmp_path / "out"), *extra]  # fmt: skip
    return run.main(argv)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:"), err
    return err


def test_pop_on_lastfm_with_the_published_negatives_matches_a_hand_count(tmp_path):
    entry = DATASETS["s3rec-lastfm"]
    root = data_root()
    if not (entry.present(root) and entry.negatives.path(root, entry.name).is_file()):
        pytest.skip("s3rec-lastfm and its negatives are not in the data folder")
    sequences = [line.split() for line in entry.data.path(root, entry.name).read_text().split("\n")]
    sequences = {s[0]: s[1:] for s in sequences if s}
    negatives = entry.negatives.path(root, entry.name).read_text().split("\n")
    negatives = {n[0]: n[1:] for n in (line.split() for line in negatives) if n}
    # popularity counted on the training part: each history but its last two items
    pop = Counter(item for items in sequences.values() for item in items[:-2])
    expected = {}
    for part, back in (("valid", 2), ("test", 1)):
        hits = [
            sum(pop[n] >= pop[items[-back]] for n in negatives[user]) < 10  # ties count against
            for user, items in sequences.items()
        ]
        expected[part] = float(np.mean(hits))
    argv = ["--repeats", "keep", "--negatives-file", "published", "--ks", "10"]
    assert run.main(["--dataset", "s3rec-lastfm", "--models", "pop", "--device", "cpu",
                     "--out", str(tmp_path / "out"), *argv]) == 0  # fmt: skip
    (record,) = records.read_records(tmp_path / "out")
    for part in ("valid", "test"):
        assert record.metric("sampled", part, "HR@10") == pytest.approx(expected[part], abs=1e-12)
    assert record.config.protocol.num_negatives == 99
    assert record.config.protocol.negatives_sha256 == entry.negatives.sha256
    assert record.metrics["estimated_full"] == {}  # the estimate assumes drawn uniform negatives


@pytest.fixture
def data(tmp_path) -> str:
    (tmp_path / "seq.txt").write_text(SEQ)
    return f"seq:{tmp_path / 'seq.txt'}"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "negatives.txt"
    path.write_text(text)
    return path


def test_a_fitting_file_ranks_each_target_against_its_own_negatives(tmp_path, data):
    path = write(tmp_path, "1 6 7 8\n2 1 5 8\n3 2 4 6\n")
    assert _run(tmp_path, data, "--negatives-file", str(path)) == 0
    (record,) = records.read_records(tmp_path / "out")
    ranks = record.ranks()
    assert record.config.protocol.num_negatives == 3
    assert ranks["sampled.test"].shape == (3, 1) and ranks["sampled.valid"].shape == (3, 1)
    assert "negatives.txt" in record.protocol["sampled"]["negatives_file"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 6 7 8\n2 1 5 8\n3 2 4 6 7\n", "line 3: 4 negatives, the lines before have 3"),
        ("1 6 7 8\n2 1 5 8\n", "no negatives for user 3"),
        ("1 6 7 8\n2 1 5 8\n3 2 4 9\n", "user 3: item 9 is not in"),
        ("1 6 7 8\n2 1 5 8\n3 2 4 5\n", "user 3: negative 5 is in the user's history"),
        ("1 6 7 8\n2 1 5 8\n1 2 4 6\n", "line 3: user 1 again"),
        ("1\n", "line 1: expected 'user neg1 neg2 ...'"),
    ],
)
def test_a_file_that_does_not_fit_is_one_line_and_writes_nothing(
    tmp_path, data, capsys, text, message
):
    path = write(tmp_path, text)
    capsys.readouterr()
    assert _run(tmp_path, data, "--negatives-file", str(path)) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--num-negatives", "50"], "--negatives-file fixes the sampled candidates; drop --num"),
        (["--negative-sampler", "popularity"], "drop --negative-sampler"),
    ],
)
def test_a_drawn_sampler_option_beside_the_file_is_refused(tmp_path, data, capsys, extra, message):
    path = write(tmp_path, "1 6 7 8\n2 1 5 8\n3 2 4 6\n")
    capsys.readouterr()
    assert _run(tmp_path, data, "--negatives-file", str(path), *extra) == 2
    assert message in _error(capsys)


def test_published_negatives_exist_only_where_a_set_has_them(tmp_path, data, capsys):
    capsys.readouterr()
    assert _run(tmp_path, data, "--negatives-file", "published") == 2
    assert "has no published negatives (only s3rec-lastfm)" in _error(capsys)
