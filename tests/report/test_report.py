"""Significance marks, Holm's correction and the paper tables, on hand-made records."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import wilcoxon

from benchmark import records
from benchmark.config import ModelConfig, RunConfig
from benchmark.report import command, tables
from benchmark.report.significance import holm, paired_p_value
from protocols import metrics
from protocols.errors import InputError

ORDER = {"pop": 10, "itemknn": 30, "gru": 30, "sasrec": 40}  # as the models declare it


def _record(
    out,
    model,
    full_ranks,
    seed=0,
    users=None,
    code="seqrec-bench 0.1.0 / x",
    dataset="hand-made",
    timings=None,
    training=None,
    created="",
    **options,
):
    users = np.arange(len(full_ranks)) if users is None else users
    ranks = np.asarray(full_ranks)[:, None]
    config = RunConfig(model=ModelConfig(model, (), (), code), seed=seed)
    config = config.replace(**{"seq_len": 10, **options})
    setting = "".join(f"-{k}={v}" for k, v in sorted(options.items()))
    record = records.RunRecord(
        run_id=f"{dataset}-{model}-{seed}{setting}{code[-3:] if created else ''}",  # one per set-up
        model=model,
        config=config,
        is_baseline=model in ("pop", "itemknn"),
        display_order=ORDER.get(model, 1000),
        uses_seq_len=False,
        dataset={"name": dataset, "sha256": "x", "users": 300, "items": 90, "interactions": 1},
        protocol={},
        metrics={
            "full": {"test": metrics.summarise(ranks, (10,))},
            "sampled": {"test": metrics.summarise(ranks // 10, (10,))},
            "estimated_full": {"test": metrics.summarise(ranks + 1, (10,))},
        },
        timings=timings or {},
        training=training,
        device={},
        environment={},
        created=created,
    )
    path = records.record_path(out, record.run_id)
    records.write_record(path, record, {"users.test": users, "full.test": ranks})


def test_holm_adjusts_in_order_and_stays_monotone():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})


def test_identical_samples_give_p_one():
    x = np.random.default_rng(0).random(50)
    assert paired_p_value(x, x.copy()) == 1.0


def test_users_are_paired_by_id_not_by_position(tmp_path):
    """gru's ranks come for a shuffled subset of pop's users: the p-value is the Wilcoxon test
    over the users both have, each user paired with itself."""
    rng = np.random.default_rng(4)
    pop = rng.integers(0, 30, size=300)
    users = rng.permutation(300)[:240]  # 60 of pop's users missing, the rest out of order
    gru = np.maximum(pop[users] - rng.integers(0, 3, size=240), 0)  # each user a little better
    _record(tmp_path, "pop", pop)
    _record(tmp_path, "gru", gru, users=users)
    tables.write_tables(tmp_path, ("full:NDCG@10",), "test")
    (row,) = (r for r in csv.DictReader((tmp_path / "table.csv").open()) if r["model"] == "gru")
    pop_ndcg = metrics.per_user(pop[:, None], (10,))["NDCG@10"]
    gru_ndcg = metrics.per_user(gru[:, None], (10,))["NDCG@10"]
    by_id = wilcoxon(gru_ndcg, pop_ndcg[users]).pvalue
    assert float(row["p_holm"]) == pytest.approx(by_id, rel=1e-9, abs=0)  # one test: Holm keeps p
    assert row["significant"] == "True"
    # paired by position (in file order or sorted by id) the same numbers show no difference
    for order in (np.arange(240), np.argsort(users)):
        assert wilcoxon(gru_ndcg[order], pop_ndcg[:240]).pvalue > 0.1 > 1e-6 > by_id


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
    text = tables.write_tables(hand_made_runs, ("full:NDCG@10",), "test")
    lines = {
        line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")
    }
    assert "gru*" in lines
    assert "sasrec" in lines and "sasrec*" not in lines
    assert "best baseline (pop)" in text and "Wilcoxon" in text and "Holm" in text
    assert "±" in lines["gru*"]  # two seeds: mean ± std


def test_latex_is_a_booktabs_table_with_bold_best(hand_made_runs):
    tables.write_tables(hand_made_runs, ("full:HR@10", "full:NDCG@10"), "test")
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
    tables.write_tables(hand_made_runs, ("full:HR@10", "full:NDCG@10"), "test")
    files = [hand_made_runs / f"{name}.tex" for name in ("table", "sampled_vs_full")]
    body = "\n".join(p.read_text() for p in files)
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


def test_tidy_csv_sample_std_declared_order_and_file_mode(hand_made_runs):
    tables.write_tables(hand_made_runs, ("full:HR@10", "full:NDCG@10"), "test")
    rows = list(csv.DictReader((hand_made_runs / "table.csv").open()))
    assert list(rows[0]) == tables.TIDY_HEADER
    assert [r["model"] for r in rows[::2]] == ["pop", "itemknn", "gru", "sasrec"]  # baselines first
    gru = next(r for r in rows if r["model"] == "gru" and r["metric"] == "NDCG@10")
    values = [
        rec.metric("full", "test", "NDCG@10")
        for rec in records.read_records(hand_made_runs)
        if rec.model == "gru"
    ]
    assert float(gru["std"]) == pytest.approx(np.std(values, ddof=1)) and gru["n"] == "2"
    assert gru["significant"] == "True" and float(gru["p_holm"]) < 0.05
    for name in ("table.csv", "table.tex", "table.md"):
        assert (hand_made_runs / name).stat().st_mode & 0o777 == 0o644 & ~_umask()


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_latex_numbers_right_aligned_best_bold_second_underlined(hand_made_runs):
    tables.write_tables(hand_made_runs, ("full:NDCG@10",), "test")
    tex = (hand_made_runs / "table.tex").read_text()
    assert "\\begin{tabular}{lr}" in tex
    assert "gru* & \\textbf{" in tex and "\\underline{" in tex


def test_several_folders_give_data_sets_as_column_groups(tmp_path):
    for name, shift in (("a", 0), ("b", 3)):
        rng = np.random.default_rng(1)
        for model in ("pop", "gru"):
            ranks = rng.integers(0, 40, size=100) + shift
            _record(tmp_path / name, model, ranks, dataset=f"data-{name}")
    text = tables.write_tables([tmp_path / "a", tmp_path / "b"], ("full:HR@10",), "test")
    assert "data-a full:HR@10" in text and "data-b full:HR@10" in text
    tex = (tmp_path / "a" / "table.tex").read_text()
    assert "\\multicolumn{1}{c}{data-a}" in tex and "\\cmidrule" in tex
    rows = list(csv.DictReader((tmp_path / "a" / "table.csv").open()))
    assert {r["dataset"] for r in rows} == {"data-a", "data-b"}


def test_a_mark_holds_for_its_own_data_set_only(tmp_path):
    rng = np.random.default_rng(2)
    base = rng.integers(3, 40, size=300)
    better = np.where(rng.random(300) < 0.8, rng.integers(0, 3, size=300), base)
    for name, gru in (("a", better), ("b", base)):  # gru wins on data-a, ties pop on data-b
        _record(tmp_path / name, "pop", base, dataset=f"data-{name}")
        _record(tmp_path / name, "gru", gru, dataset=f"data-{name}")
    text = tables.write_tables([tmp_path / "a", tmp_path / "b"], ("full:NDCG@10",), "test")
    row = next(line for line in text.splitlines() if line.startswith("| gru"))  # main table
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[0] == "gru" and cells[1].endswith("***")  # bold, then the mark
    assert cells[2].endswith("**") and not cells[2].endswith("***")
    tex = (tmp_path / "a" / "table.tex").read_text()
    assert "gru & \\textbf{" in tex and "}* & " in tex


def test_runs_of_other_options_are_never_pooled_and_a_run_counts_once(tmp_path):
    ranks = np.arange(100) % 30
    _record(tmp_path, "pop", ranks)
    _record(tmp_path, "pop", ranks + 5, repeats="keep")
    _record(tmp_path, "pop", ranks + 9, seq_len=20)
    tables.write_tables([tmp_path, tmp_path], ("full:HR@10",), "test")
    text = (tmp_path / "table.md").read_text()
    assert text.count("| pop ") == 3 and "±" not in text  # three tables of one run each
    for words in ("repeats first, input length 10", "repeats keep", "input length 20"):
        assert words in text
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert len({r["setting"] for r in rows}) == 3 and {r["n"] for r in rows} == {"1"}


def test_only_accuracy_columns_are_ranked(hand_made_runs):
    tables.write_tables(hand_made_runs, ("full:ARP@10", "full:HR@10"), "test")
    md = (hand_made_runs / "table.md").read_text()
    rows = [line.split("|")[2:4] for line in md.splitlines() if line.startswith("| ")][1:]
    assert not any("**" in arp or "<ins>" in arp for arp, _ in rows)
    assert any("**" in hr for _, hr in rows)


def test_latex_escapes_comparisons_and_backslashes():
    from benchmark.report.render import escape

    assert escape("r>=4, p < 0.05, a_b") == "r$\\geq$4, p $<$ 0.05, a\\_b"
    assert escape("a\\b") == "a\\textbackslash{}b"


def test_mixed_code_is_refused_unless_allowed(tmp_path):
    ranks = np.arange(50) % 20
    _record(tmp_path, "gru", ranks, seed=0, code="seqrec-bench 0.1.0 / old")
    _record(tmp_path, "gru", ranks, seed=1, code="seqrec-bench 0.1.0 / new")
    with pytest.raises(InputError, match="gru-0 has seqrec-bench 0.1.0 / old"):
        tables.write_tables(tmp_path, ("full:HR@10",), "test")
    assert command.main([str(tmp_path), "--columns", "full:HR@10"]) == 2
    assert command.main([str(tmp_path), "--columns", "full:HR@10", "--allow-mixed"]) == 0


def test_a_run_made_again_with_newer_code_replaces_the_old_record(tmp_path):
    _record(tmp_path, "gru", np.arange(50) % 20, code="v / old", created="2026-12-01T10:00:00")
    _record(tmp_path, "gru", np.zeros(50, int), code="v / new", created="2026-12-04T10:00:00")
    _record(tmp_path, "pop", np.arange(50) % 30, code="v / pop", created="2026-11-01T10:00:00")
    text = tables.write_tables(tmp_path, ("full:HR@10",), "test")
    assert "1.0000" in text and "gru" in text and "pop" in text  # the new gru run, no refusal


def test_report_loads_neither_torch_nor_a_model(hand_made_runs):
    code = (
        "import sys; from benchmark.report import command; "
        f"assert command.main([{str(hand_made_runs)!r}]) == 0; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'baselines', 'seqmodels', 'implicit')]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_record_of_an_older_schema_is_refused_in_one_line(tmp_path, capsys):
    _record(tmp_path, "pop", [1, 2, 3])
    path = next((tmp_path / "runs").glob("*.json"))
    old = json.loads(path.read_text())
    old["schema_version"] = 3
    path.write_text(json.dumps(old))
    assert command.main([str(tmp_path)]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "schema 3, not 4" in message and "run it again" in message


def test_cost_table_reads_seconds_and_epochs_from_the_records(tmp_path):
    ranks = np.arange(300) % 40
    for seed, fit in ((0, 10.0), (1, 14.0)):
        _record(tmp_path, "pop", ranks, seed, timings={"fit_seconds": 0.5, "eval_seconds": 1.0})
        history = [{"train_seconds": fit / 4, "valid_seconds": 0.5} for _ in range(4)]
        _record(
            tmp_path,
            "gru",
            ranks,
            seed,
            timings={"fit_seconds": fit, "eval_seconds": 2.0},
            training={"history": history, "best_epoch": 2 + seed},
        )
    tables.write_tables(tmp_path, ("full:NDCG@10",), "test")
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in (tmp_path / "cost.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| model")
    }
    # fit s, eval s, epochs, best epoch, train s/epoch, valid s/epoch: means ± sd over seeds
    assert rows["gru"] == [
        "12.0 ± 2.8",
        "2.0 ± 0.0",
        "4.0 ± 0.0",
        "2.5 ± 0.7",
        "3.0 ± 0.7",
        "0.5 ± 0.0",
    ]
    assert rows["pop"] == ["0.5 ± 0.0", "1.0 ± 0.0", "–", "–", "–", "–"]
