"""Pinned data sets: verified by SHA-256 before parsing, statistics checked, the real files of
the shared folder read exactly, one-line errors for a missing or altered file."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from benchmark.datasets import DATASETS, data_root, load_raw, pinned
from protocols.data import to_implicit
from protocols.errors import InputError

SEQ = "1 10 11 12\n2 11 12 13 14\n3 10 14\n"  # 3 users, 5 items, 9 interactions


def planted(monkeypatch, tmp_path: Path, text: str = SEQ, name: str = "s3rec-toys") -> Path:
    """The registry's entry for `name`, pointed at a small file the test writes (its real
    checksum replaced by the small file's, the URL by a local one)."""
    entry = DATASETS[name]
    server = tmp_path / "server" / entry.data.file
    server.parent.mkdir(parents=True)
    server.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    data = dataclasses.replace(entry.data, url=server.as_uri(), sha256=digest)
    stats = {"users": 3, "items": 5, "interactions": 9}
    monkeypatch.setitem(DATASETS.entries, name, dataclasses.replace(entry, data=data, **stats))
    return server


def test_the_registry_pins_each_file_to_a_commit_and_a_checksum():
    names = [n for n in DATASETS if DATASETS[n].kind == "pinned"]
    assert names == ["s3rec-beauty", "s3rec-sports", "s3rec-toys", "s3rec-yelp", "s3rec-lastfm",
                     "sasrec-games"]  # fmt: skip
    for name in names:
        entry = DATASETS[name]
        commit = entry.data.url.split("/")[5]
        assert len(commit) == 40 and len(entry.data.sha256) == 64, name
        assert entry.data.url.endswith("/" + entry.data.file)
    assert DATASETS["s3rec-beauty"].data.sha256.startswith("226cce9c3105")
    assert DATASETS["s3rec-lastfm"].negatives.sha256.startswith("60194cc2e4fd")
    assert DATASETS["sasrec-games"].format == "pairs"


def test_a_missing_file_is_downloaded_verified_and_read(tmp_path, monkeypatch):
    planted(monkeypatch, tmp_path)
    raw = load_raw("s3rec-toys", data_dir=tmp_path / "data")
    assert (tmp_path / "data" / "s3rec-toys" / "Toys_and_Games.txt").read_text() == SEQ
    assert raw.name == "s3rec-toys" and len(raw.frame) == 9
    assert raw.frame["timestamp"].tolist()[:4] == [0, 1, 2, 0]  # positions: the file's order


def test_an_altered_file_is_refused_before_parsing(tmp_path, monkeypatch):
    planted(monkeypatch, tmp_path)
    folder = tmp_path / "data" / "s3rec-toys"
    folder.mkdir(parents=True)
    (folder / "Toys_and_Games.txt").write_text(SEQ.replace("14\n", "15\n"))
    with pytest.raises(InputError, match="sha256 .* not .* delete it") as caught:
        load_raw("s3rec-toys", data_dir=tmp_path / "data")
    assert "\n" not in str(caught.value)


def test_a_download_with_the_wrong_bytes_leaves_nothing(tmp_path, monkeypatch):
    server = planted(monkeypatch, tmp_path)
    server.write_text(SEQ[:-3])  # truncated on the server
    with pytest.raises(InputError, match="sha256"):
        load_raw("s3rec-toys", data_dir=tmp_path / "data")
    assert not list((tmp_path / "data" / "s3rec-toys").iterdir())  # no .part, no file


def test_offline_and_missing_names_the_file_the_url_and_the_folder(tmp_path, monkeypatch):
    def offline(*args):
        raise OSError("no network")

    monkeypatch.setattr(pinned, "download", offline)
    with pytest.raises(InputError) as caught:
        load_raw("s3rec-sports", data_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "no network" in message
    assert "salesforce/ICLRec/2890e6c3ff6a22c6699fc19cb863b66786c1cde4/data/Sports" in message
    assert str(tmp_path / "s3rec-sports") in message


def test_statistics_that_do_not_match_the_paper_are_refused(tmp_path, monkeypatch):
    planted(monkeypatch, tmp_path)
    entry = DATASETS["s3rec-toys"]
    monkeypatch.setitem(DATASETS.entries, "s3rec-toys", dataclasses.replace(entry, users=4))
    with pytest.raises(InputError, match="3 users/5 items/9 interactions, expected 4/5/9"):
        load_raw("s3rec-toys", data_dir=tmp_path / "data")


@pytest.mark.parametrize(
    ("name", "stats"),
    [("s3rec-beauty", (22_363, 12_101, 198_502)), ("s3rec-lastfm", (1_090, 3_646, 52_551))],
)
def test_the_real_files_give_the_papers_statistics(name, stats):
    if not DATASETS[name].present(data_root()):
        pytest.skip(f"{name} is not in the data folder")
    data = to_implicit(load_raw(name))
    assert (data.n_users, data.n_items, data.n_interactions) == stats
