"""Reading data sets: csv layouts, bad input, registered sets (folder, zip, partial ML-1M)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.datasets import DATASETS, data_root, dataset_names, load_raw, movielens
from protocols.data import to_implicit
from protocols.errors import InputError
from protocols.types import RawData

REAL_DATA = Path(os.environ.get("SEQREC_DATA") or "/work/shared/datasets")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return f"csv:{path}"


# ----------------------------------------------------------------------------- csv files


def test_csv_with_header_keeps_file_order_and_types(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "events.csv", "user,item,timestamp,rating\n3,10,5,4.5\n1,11,5,2\n3,9,1,1\n"
    )
    raw = load_raw(spec)
    assert raw.name == "events" and raw.source == str(tmp_path / "events.csv")
    assert list(raw.frame.columns) == ["user", "item", "timestamp", "rating"]
    assert raw.frame["user"].tolist() == [3, 1, 3]
    assert raw.frame["item"].tolist() == [10, 11, 9]
    assert raw.frame["timestamp"].tolist() == [5, 5, 1]
    assert raw.frame["rating"].tolist() == [4.5, 2.0, 1.0]
    assert [raw.frame[c].dtype for c in ("user", "item", "timestamp")] == [np.int64] * 3
    assert raw.items is None


def test_csv_string_ids_are_kept_as_given(tmp_path: Path) -> None:
    raw = load_raw(write(tmp_path / "s.csv", "user,item,timestamp\nann,x1,7\nbob,007,8\n"))
    assert raw.frame["user"].tolist() == ["ann", "bob"]
    assert raw.frame["item"].tolist() == ["x1", "007"]
    assert "rating" not in raw.frame.columns


def test_columns_maps_header_names(tmp_path: Path) -> None:
    text = "UserID,MovieID,extra,ts\n1,5,a,100\n2,6,b,200\n"
    raw = load_raw(write(tmp_path / "m.csv", text), columns="user=UserID,item=MovieID,timestamp=ts")
    assert list(raw.frame.columns) == ["user", "item", "timestamp"]
    assert raw.frame["timestamp"].tolist() == [100, 200]


def test_headerless_double_colon_file(tmp_path: Path) -> None:
    text = "1::1193::5::978300760\n1::661::3::978302109\n\n2::1357::4::978298709\n"
    spec = write(tmp_path / "ratings.dat", text)
    raw = load_raw(spec, sep="::", columns="user,item,rating,timestamp")
    assert raw.frame["item"].tolist() == [1193, 661, 1357]
    assert raw.frame["rating"].tolist() == [5.0, 3.0, 4.0]
    skipped = load_raw(spec, sep="::", columns="user,item,-,timestamp")
    assert list(skipped.frame.columns) == ["user", "item", "timestamp"]


def test_no_timestamp_means_file_order(tmp_path: Path) -> None:
    raw = load_raw(
        write(tmp_path / "n.tsv", "u\ti\n1\t5\n2\t6\n1\t7\n"), sep="tab", columns="user=u,item=i"
    )
    assert raw.frame["timestamp"].tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("user,item,timestamp\n1,2,3\n1,2,3,4\n", 3, "4 fields, expected 3"),
        ("user,item,timestamp\n1,2,3,4\n1,2,3\n", 2, "more fields"),
        ("user,item,timestamp\n1,2,3\n\n\n1,2\n", 5, "missing timestamp"),
        ("user,item,timestamp\n1,2,3\n1,2,yesterday\n", 3, "'yesterday' is not a number or"),
        ("user,item,timestamp\n1,2,3\n1,2,2014-01-01\n", 3, "'2014-01-01' is not a number or"),
        ("user,item,timestamp\n1,2,2014-01-01\n1,2,soon\n", 3, "'soon' is not a number or"),
        ("user,item,timestamp\n1,2,3\n,2,3\n", 3, "missing user"),
        ("user,item,timestamp,rating\n1,2,3,4\n1,2,3,good\n", 3, "'good' is not a number"),
    ],
)
def test_malformed_line_is_named(tmp_path: Path, text: str, line: int, what: str) -> None:
    with pytest.raises(InputError, match=f"bad.csv: line {line}: .*{what}"):
        load_raw(write(tmp_path / "bad.csv", text))


def test_malformed_line_numbers_count_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"user,item,timestamp\r\n1,2,3\r\n\r\n1,2,x\r\n")
    with pytest.raises(InputError, match="line 4: "):
        load_raw(f"csv:{path}")


def test_missing_columns_and_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file: .*nope.csv"):
        load_raw(f"csv:{tmp_path / 'nope.csv'}")
    spec = write(tmp_path / "h.csv", "a,b\n1,2\n")
    with pytest.raises(InputError, match="no column 'user' .*found: a, b"):
        load_raw(spec)
    with pytest.raises(InputError, match="--columns"):
        load_raw(spec, columns="user,rating")  # no item
    with pytest.raises(InputError, match="--columns"):
        load_raw(spec, columns="user=a,colour=b")
    with pytest.raises(InputError, match="is empty"):
        load_raw(write(tmp_path / "empty.csv", ""))
    with pytest.raises(InputError, match="no data rows"):
        load_raw(write(tmp_path / "header.csv", "user,item\n"))


def test_unknown_dataset_and_misplaced_options() -> None:
    with pytest.raises(
        InputError,
        match=r"unknown dataset 'ml-1n' \(did you mean 'ml-1m'\?\); known: ml-100k, ml-1m",
    ):
        load_raw("ml-1n")
    with pytest.raises(InputError, match="csv:PATH, seq:PATH, pairs:PATH, atomic:PATH, synthetic"):
        load_raw("movielens")
    with pytest.raises(InputError, match="csv:PATH data sets only"):
        load_raw("ml-1m", sep="::")
    assert dataset_names()[:5] == ["ml-100k", "ml-1m", "ml-20m", "ml-25m", "ml-latest-small"]


def test_synthetic_spec() -> None:
    raw = load_raw("synthetic:n_users=30,n_items=40,n_clusters=4,mean_length=8,seed=3")
    assert raw.frame["user"].nunique() == 30 and raw.frame["item"].max() <= 40
    assert "seed=3" in raw.source
    with pytest.raises(
        InputError, match="unknown synthetic option 'users'; valid: n_users, n_items"
    ):
        load_raw("synthetic:users=3")
    with pytest.raises(InputError, match="needs a number"):
        load_raw("synthetic:n_users=many")


def test_data_root_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQREC_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("SEQREC_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "seqrec-bench" / "data"


# ----------------------------------------------------------------------------- registered sets

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"


def fake_zip(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-100k/u.data", U_DATA)
        archive.writestr("ml-100k/u.genre", "unknown|0\nAction|1\n\n")
        archive.writestr("ml-100k/u.item", "242|Kolya (1996)|24-Jan-1997||http://x|0|1\n")
    return path


def trust(monkeypatch: pytest.MonkeyPatch, path: Path, rows: int = 3) -> None:
    """Register the fake zip's size, checksum and row count as ml-100k's."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = dataclasses.replace(DATASETS["ml-100k"], zip_size=path.stat().st_size, sha256=sha)
    monkeypatch.setitem(DATASETS.entries, "ml-100k", dataclasses.replace(spec, expected_rows=rows))


def test_truncated_ratings_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text(U_DATA)
    with pytest.raises(InputError, match=r"ml-100k/u.data has 3 rows, expected 100,000"):
        load_raw("ml-100k", data_dir=tmp_path)


def test_zip_with_wrong_size_or_checksum_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = fake_zip(tmp_path)
    with pytest.raises(InputError, match=r"ml-100k.zip has .* bytes, not the 4,924,029"):
        load_raw("ml-100k", data_dir=tmp_path)
    spec = dataclasses.replace(DATASETS["ml-100k"], zip_size=path.stat().st_size)
    monkeypatch.setitem(DATASETS.entries, "ml-100k", spec)
    with pytest.raises(InputError, match="ml-100k.zip has sha256 .*, not 50d2a982"):
        load_raw("ml-100k", data_dir=tmp_path)
    assert not (tmp_path / "ml-100k").exists()


def test_verified_zip_is_extracted_then_read(tmp_path: Path, monkeypatch) -> None:
    trust(monkeypatch, fake_zip(tmp_path))
    raw = load_raw("ml-100k", data_dir=tmp_path)
    assert (tmp_path / "ml-100k" / "u.data").read_text() == U_DATA
    assert raw.frame["item"].tolist() == [242, 302, 377]
    assert raw.items.loc[242, "title"] == "Kolya (1996)"
    assert raw.items.loc[242, "genres"] == ("Action",)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left


def test_an_item_table_with_too_few_columns_is_one_error(tmp_path: Path, monkeypatch) -> None:
    trust(monkeypatch, fake_zip(tmp_path))
    load_raw("ml-100k", data_dir=tmp_path)  # extracted
    (tmp_path / "ml-100k" / "u.item").write_text("242\n")  # no title column
    with pytest.raises(InputError, match="ml-100k: the item table next to .* is malformed"):
        load_raw("ml-100k", data_dir=tmp_path)


def test_zip_is_read_in_place_when_it_cannot_be_extracted(tmp_path: Path, monkeypatch) -> None:
    trust(monkeypatch, fake_zip(tmp_path))
    monkeypatch.setattr(movielens, "_extract", lambda *args: False)
    raw = load_raw("ml-100k", data_dir=tmp_path)
    assert raw.source.endswith("ml-100k.zip:ml-100k/u.data")
    assert len(raw.frame) == 3 and raw.items is not None


def test_download_is_verified_then_renamed(tmp_path: Path, monkeypatch) -> None:
    served = fake_zip(tmp_path / "server")
    trust(monkeypatch, served)
    spec = dataclasses.replace(DATASETS["ml-100k"], url=served.as_uri())
    monkeypatch.setitem(DATASETS.entries, "ml-100k", spec)
    raw = load_raw("ml-100k", data_dir=tmp_path / "data")
    assert len(raw.frame) == 3
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ml-100k", "ml-100k.zip"]
    bad = dataclasses.replace(spec, sha256="0" * 64)
    monkeypatch.setitem(DATASETS.entries, "ml-100k", bad)
    with pytest.raises(InputError, match="sha256"):
        load_raw("ml-100k", data_dir=tmp_path / "other")
    assert list((tmp_path / "other").iterdir()) == []  # the .part file is gone


def test_nothing_found_says_where_to_put_what(tmp_path: Path, monkeypatch) -> None:
    def offline(*args):
        raise OSError("no network")

    monkeypatch.setattr(movielens, "download", offline)
    with pytest.raises(InputError) as caught:
        load_raw("ml-1m", data_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "no network" in message
    assert (
        f"ml-1m.zip (from https://files.grouplens.org/datasets/movielens/ml-1m.zip) in {tmp_path}"
        in message
    )
    assert str(tmp_path / "ml-1m" / "ratings.dat") in message


def test_partial_ml1m_only_with_min_rating_4(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings_partial_known_ts.dat").write_text(
        "1::1193::5::978300760\n1::661::4::978302109\n"
    )
    (folder / "movies.dat").write_bytes("1193::Caf\xe9: One (1975)::Drama\n".encode("latin-1"))
    spec = dataclasses.replace(DATASETS["ml-1m"], partial_rows=2)
    monkeypatch.setitem(DATASETS.entries, "ml-1m", spec)
    raw = load_raw("ml-1m", data_dir=tmp_path, min_rating_hint=4)
    assert raw.source.endswith("ratings_partial_known_ts.dat") and len(raw.frame) == 2
    assert raw.items.loc[1193].tolist() == ["Caf\xe9: One (1975)", ("Drama",)]
    for hint in (None, 3.5):
        with pytest.raises(InputError, match="only for ratings >= 4: use --min-rating 4"):
            load_raw("ml-1m", data_dir=tmp_path, min_rating_hint=hint)


# ----------------------------------------------------------------------------- the real files

needs_real = pytest.mark.skipif(
    not (REAL_DATA / "ml-100k" / "u.data").is_file(), reason=f"no MovieLens files in {REAL_DATA}"
)


@needs_real
def test_real_ml100k() -> None:
    raw = load_raw("ml-100k", data_dir=REAL_DATA)
    frame = raw.frame
    assert (len(frame), frame["user"].nunique(), frame["item"].nunique()) == (100_000, 943, 1682)
    assert raw.items is not None and len(raw.items) == 1682
    assert raw.items.loc[1, "genres"] == ("Animation", "Children's", "Comedy")


@needs_real
def test_real_ml1m_partial() -> None:
    if not (REAL_DATA / "ml-1m" / "ratings_partial_known_ts.dat").is_file():
        pytest.skip("no partial ML-1M file")
    raw = load_raw("ml-1m", data_dir=REAL_DATA, min_rating_hint=4)
    assert len(raw.frame) == 855_005 and "ratings_partial_known_ts.dat" in raw.source
    assert int((raw.frame["rating"] >= 4).sum()) == 575_281
    assert len(raw.items) == 3883
    if not (REAL_DATA / "ml-1m" / "ratings.dat").is_file():
        with pytest.raises(InputError, match="--min-rating 4"):
            load_raw("ml-1m", data_dir=REAL_DATA)


def _events(rows) -> RawData:
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating"])
    return RawData(name="hand-made", frame=frame)


def _pairs(data) -> set[tuple[str, str]]:
    h = data.histories
    return {
        (str(data.user_ids[u]), str(data.item_ids[i]))
        for u in range(data.n_users)
        for i in h.items[h.indptr[u] : h.indptr[u + 1]]
    }


def test_min_rating_keeps_ratings_equal_to_the_threshold():
    raw = _events([("u", "a", 1, 4.0), ("u", "b", 2, 3.5), ("u", "c", 3, 5.0), ("v", "a", 4, 3.9)])
    assert _pairs(to_implicit(raw, min_rating=4)) == {("u", "a"), ("u", "c")}
    assert to_implicit(raw, min_rating=4).stats["after_min_rating"] == 2


def test_k_core_repeats_until_every_user_and_item_meets_it():
    """Dropping item w leaves user C with one event; dropping C leaves item z with one user,
    then B with one event: a single pass would keep C, z and B."""
    core = [("P", "a"), ("P", "b"), ("Q", "a"), ("Q", "b")]
    chain = [("C", "z"), ("C", "w"), ("B", "z"), ("B", "a")]
    raw = _events([(u, i, t, 5.0) for t, (u, i) in enumerate(core + chain)])
    data = to_implicit(raw, min_user_interactions=2, min_item_interactions=2)
    assert _pairs(data) == set(core)
