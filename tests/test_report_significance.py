"""Significance marks, Holm's correction and the paper tables, on hand-made records."""

import shutil
import subprocess

import numpy as np
import pytest

from benchmark import records, report
from benchmark.significance import holm, paired_p_value
from protocols import metrics


def _record(out, model, full_ranks, seed=0, users=None):
    users = np.arange(len(full_ranks)) if users is None else users
    ranks = np.asarray(full_ranks)[:, None]
    record = {
        "run_id": f"{model}-{seed}",
        "model": model,
        "params": {},
        "config": {
            "params": {},
            "alpha": 0.0,
            "seed": seed,
            "split": "loo",
            "targets_per_user": 1,
            "seq_len": 10,
            "num_negatives": 100,
            "negative_sampler": "uniform",
        },
        "dataset": {
            "name": "hand-made",
            "sha256": "x",
            "users": 300,
            "items": 90,
            "interactions": 1,
        },
        "metrics": {
            "full": {"test": metrics.summarise(ranks, (10,))},
            "sampled": {"test": metrics.summarise(ranks // 10, (10,))},
            "estimated_full": {"test": metrics.summarise(ranks + 1, (10,))},
        },
    }
    path = records.record_path(out, record["run_id"])
    records.write_record(path, record, {"users.test": users, "full.test": ranks})


def test_holm_adjusts_in_order_and_stays_monotone():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})


def test_identical_samples_give_p_one():
    x = np.random.default_rng(0).random(50)
    assert paired_p_value(x, x.copy()) == 1.0


@pytest.fixture
def hand_made_runs(tmp_path):
    rng = np.random.default_rng(0)
    baseline = rng.integers(3, 40, size=300)
    for seed in (0, 1):
        _record(tmp_path, "pop", baseline, seed)
        _record(tmp_path, "itemknn", baseline + 5, seed)  # a worse baseline
        _record(tmp_path, "sasrec", baseline, seed)  # identical to the best baseline
        better = np.where(rng.random(300) < 0.8, rng.integers(0, 3, size=300), baseline)
        _record(tmp_path, "gru", better, seed)  # clearly better
    return tmp_path


def test_marker_for_a_clearly_better_model_and_not_for_an_identical_one(hand_made_runs):
    text = report.write_tables(hand_made_runs, ("full:NDCG@10",), "test")
    lines = {
        line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")
    }
    assert "gru*" in lines
    assert "sasrec" in lines and "sasrec*" not in lines
    assert "best baseline (pop)" in text and "Wilcoxon" in text and "Holm" in text
    assert "±" in lines["gru*"]  # two seeds: mean ± std


def test_latex_is_a_booktabs_table_with_bold_best(hand_made_runs):
    report.write_tables(hand_made_runs, ("full:HR@10", "full:NDCG@10"), "test")
    tex = (hand_made_runs / "table.tex").read_text()
    for needed in (
        "\\begin{table}",
        "\\toprule",
        "\\midrule",
        "\\bottomrule",
        "\\textbf{",
        "$\\pm$",
    ):
        assert needed in tex
    assert "\\caption{" in tex and "Wilcoxon" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(hand_made_runs, tmp_path):
    report.write_tables(hand_made_runs, ("full:HR@10", "full:NDCG@10"), "test")
    tables = [hand_made_runs / f"{name}.tex" for name in ("table", "sampled_vs_full")]
    body = "\n".join(p.read_text() for p in tables)
    assert "\\resizebox" in body  # the wide sampled-vs-full table is scaled
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs,graphicx}\n\\begin{document}\n"
        + body
        + "\n\\end{document}\n"
    )
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
