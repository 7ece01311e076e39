"""Published figures beside ours: matched on data version and protocol, ranges never picked."""

import csv

import numpy as np
import pytest

from benchmark import records
from benchmark.config import ModelConfig, RunConfig
from benchmark.report import command
from benchmark.report.published import TABLE, comparison, read_table


def _record(out, model, ndcg, dataset="s3rec-beauty", **options):
    config = RunConfig(model=ModelConfig(model, (), (), "same code")).replace(**options)
    record = records.RunRecord(
        run_id=f"{model}-{dataset}-{sorted(options.items())}",
        model=model,
        config=config,
        is_baseline=model == "pop",
        display_order=10,
        uses_seq_len=False,
        dataset={"name": dataset, "sha256": dataset, "users": 3, "items": 9, "interactions": 9},
        protocol={},
        metrics={
            "full": {"test": {"NDCG@10": ndcg, "HR@10": 2 * ndcg}},
            "sampled": {"test": {"NDCG@10": 10 * ndcg}},
        },
        timings={},
        device={},
        environment={},
        created="",
    )
    path = records.record_path(out, record.run_id)
    records.write_record(path, record, {"users.test": np.arange(3), "full.test": np.ones((3, 1))})


def test_the_table_is_the_shared_one_with_a_source_on_every_line():
    with open(TABLE, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 528 and all(row["source"] for row in rows)
    figures = read_table()[("s3rec-beauty", "full", "SASRec", "NDCG@10")]
    assert sorted(f.value for f in figures) == [0.0318, 0.0342]  # S3-Rec's and ICLRec's


def test_ours_beside_the_range_of_the_sources(tmp_path):
    _record(tmp_path, "sasrec", 0.0330)
    _record(tmp_path, "pop", 0.0060)
    rows, sources = comparison(records.read_records(tmp_path), ("full:NDCG@10", "full:HR@10"))
    by = {(r[1], r[2]): r for r in rows}
    sasrec = by[("sasrec", "full:NDCG@10")]
    assert (sasrec[4], sasrec[5]) == (0.0318, 0.0342) and len(sasrec[6]) == 2
    assert by[("pop†", "full:NDCG@10")][4] == 0.0068  # popularity counted on all data: flagged
    assert any("PopRec counted on all data" in s for s in sources)


def test_a_model_on_two_data_sets_is_compared_on_each_apart(tmp_path):
    _record(tmp_path, "sasrec", 0.0330)
    _record(tmp_path, "sasrec", 0.0400, dataset="s3rec-lastfm")
    rows, _ = comparison(records.read_records(tmp_path), ("full:NDCG@10",))
    ours = {r[0]: r[3].mean for r in rows}
    assert ours == {"s3rec-beauty": pytest.approx(0.0330), "s3rec-lastfm": pytest.approx(0.04)}
    assert {(r[0], r[4]) for r in rows} == {("s3rec-beauty", 0.0318), ("s3rec-lastfm", 0.0390)}


def test_only_the_version_and_protocol_as_published_match(tmp_path):
    _record(tmp_path / "a", "sasrec", 0.03, min_rating=4.0)  # our own filter: another version
    _record(tmp_path / "b", "sasrec", 0.03, dataset="amazon-beauty")  # a recipe, not the file
    _record(tmp_path / "c", "sasrec", 0.03)  # sampled, but drawn negatives: not S3-Rec's 99
    for folder in ("a", "b", "c"):
        recs = records.read_records(tmp_path / folder)
        rows, _ = comparison(recs, ("full:NDCG@10",) if folder != "c" else ("sampled:NDCG@10",))
        assert rows == [], folder


def test_the_command_writes_the_table_and_names_the_sources(tmp_path, capsys):
    _record(tmp_path, "sasrec", 0.0330)
    assert command.main([str(tmp_path), "--published", "--columns", "full:NDCG@10"]) == 0
    text = (tmp_path / "published.md").read_text()
    assert "0.0318–0.0342" in text and "ICLRec (Chen et al., WWW 2022)" in text
    assert "0.9649–1.0377" in text  # ours over each end of the range
    tidy = list(csv.DictReader(open(tmp_path / "published.csv")))
    assert tidy[0]["published_low"] == "0.0318" and float(tidy[0]["ours"]) == pytest.approx(0.033)
