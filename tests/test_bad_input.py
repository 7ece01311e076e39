"""Bad input: one line on stderr, exit code 2, no traceback, nothing written."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYNTH = "synthetic:n_users=60,n_items=40,mean_length=10"


def _cli(tmp_path, *args, module="benchmark.run"):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "SEQREC_CACHE": str(tmp_path / "c"),
            "SEQREC_DATA": str(tmp_path / "data"),
        },
    )
    return result, out


CASES = {
    "unknown model": (["--models", "pop,nosuchmodel"], "unknown model 'nosuchmodel'"),
    "unknown dataset": (["--dataset", "ml-7m"], "unknown dataset"),
    "missing csv": (["--dataset", "csv:/nonexistent/file.csv"], "/nonexistent/file.csv"),
    "seq len zero": (["--seq-len", "0"], "--seq-len"),
    "k above candidates": (["--num-negatives", "10", "--ks", "5,20"], "larger than"),
    "too many negatives": (["--num-negatives", "39", "--ks", "5"], "to sample from"),
    "unknown repeats": (["--repeats", "last"], "argument --repeats: invalid choice: 'last'"),
    "unknown param": (["--models", "pop", "--param", "depth=3"], "has parameter 'depth'"),
    "bad param value": (["--models", "itemknn", "--param", "neighbours=many"], "cannot read"),
    # refused values fail before the first model (pop) runs, so nothing is written
    "refused param value": (
        ["--models", "pop,itemknn", "--param", "neighbours=0"],
        "model 'itemknn': neighbours must be >= 1",
    ),
    "loss a model cannot use": (
        ["--models", "pop,bert4rec", "--param", "loss=bce"],
        "model 'bert4rec': cannot train with --loss bce",
    ),
    "augmentation rate outside (0, 1]": (
        ["--models", "pop,cl4srec", "--param", "crop=1.5"],
        "model 'cl4srec': crop must be in (0, 1], got 1.5",
    ),
    "negative temperature": (
        ["--models", "pop,duorec", "--param", "temperature=-1"],
        "model 'duorec': temperature must be positive, got -1",
    ),
    "fewer than one target": (
        ["--models", "pop,caser", "--param", "targets=0"],
        "model 'caser': targets must be >= 1, got 0",
    ),
    "bad sampler": (["--negative-sampler", "fancy"], "negative-sampler"),
    "bad split": (["--split", "random"], "invalid choice"),
    "keep with two targets": (
        ["--repeats", "keep", "--targets-per-user", "2"],
        "--repeats keep needs --targets-per-user 1",
    ),
    "missing registered data": (["--dataset", "ml-100k"], "ml-100k"),
    "unknown re-ranker": (["--rerank", "fairness=1"], "unknown re-ranker 'fairness'"),
    "re-ranker without strength": (["--rerank", "xquad"], "NAME=STRENGTH"),
    "strength out of range": (["--rerank", "calibrated=1.5"], "lambda must be in [0, 1]"),
    "negative alpha": (["--alpha", "-1"], "alpha must be >= 0"),
    "cap below one": (["--rerank", "exposure-cap=0"], "cap must be >= 1"),
    "fractional slots": (["--rerank", "coverage-fill=1.5"], "m must be an integer"),
    # 60 users x 10 slots cannot fit in 40 items x 2 users each: refused before pop runs
    "cap that cannot fill every list": (
        ["--rerank", "exposure-cap=2", "--num-negatives", "20", "--ks", "5,10"],
        "lists of 10; the cap must be >= ",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_exit_two_nothing_written(tmp_path, case):
    args, expected = CASES[case]
    args = ["--dataset", SYNTH, *args] if "--dataset" not in args else args
    models = [] if "--models" in args else ["--models", "pop"]
    result, out = _cli(tmp_path, *args, *models, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()  # progress logging may come before the error
    errors = [line for line in lines if "error" in line.lower()]
    assert errors == lines[-1:] and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[-1]
    assert not list(out.glob("runs/*.json"))


def test_malformed_csv_names_the_line(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,item,timestamp\n1,2,3\n1,3,4\n2,2,oops\n")
    result, out = _cli(
        tmp_path, "--dataset", f"csv:{path}", "--out", str(out_dir := tmp_path / "o")
    )
    assert result.returncode == 2
    assert "line 4" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out_dir.exists() or not list(out_dir.glob("runs/*.json"))


def test_report_on_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result, _ = _cli(tmp_path, str(tmp_path / "empty"), module="benchmark.report")
    assert result.returncode == 2 and "no run records" in result.stderr
