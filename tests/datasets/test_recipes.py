"""Registered data sets with a recipe: each read from a small file in its source's own format."""

import dataclasses
import gzip
import json
import logging
from pathlib import Path

import pytest

from benchmark.datasets import DATASETS, dataset_names, dumps, load_raw, recipes
from benchmark.datasets.recipes import Expected
from protocols.errors import InputError

RECIPES = {recipe.name: recipe for recipe in recipes.SETS}

# 6 users x 6 items, every pair once (a 5-core), plus a user and an item with 2 events each
CORE = [
    (f"u{u}", f"i{i}", 1_400_000_000 + 86_400 * (u * 6 + i)) for u in range(6) for i in range(6)
]
FRINGE = [("lonely", "i0", 1_500_000_000), ("lonely", "rare", 1_500_086_400)]
EVENTS = CORE + FRINGE


def _gzip(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))


def _iso(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_amazon(path: Path) -> None:
    lines = [
        json.dumps({"reviewerID": u, "asin": i, "reviewerName": "A. N. Other", "helpful": [0, 0],
                    "reviewText": "Good.", "overall": 4.0, "summary": "ok",
                    "unixReviewTime": t, "reviewTime": "05 13, 2014"})
        for u, i, t in EVENTS
    ]  # fmt: skip
    _gzip(path, lines)


def write_steam(path: Path) -> None:
    # the source writes Python literals; a name with a quote is written in double quotes
    lines = [
        str({"username": u.replace("u1", "O'Neil"), "hours": 1.5, "products": 3,
             "product_id": i, "page_order": 0, "date": _iso(t)[:10], "text": "fun",
             "early_access": False, "page": 1})
        for u, i, t in EVENTS
    ]  # fmt: skip
    _gzip(path, lines)


def write_yelp(path: Path) -> None:
    lines = [
        json.dumps({"review_id": f"r{n}", "user_id": u, "business_id": i, "stars": 5.0,
                    "useful": 0, "text": "nice", "date": "2019" + _iso(t)[4:19].replace("T", " ")},
                   separators=(",", ":"))
        for n, (u, i, t) in enumerate(EVENTS)
    ]  # fmt: skip
    lines.append(json.dumps({"user_id": "u0", "business_id": "old", "stars": 1.0,
                             "date": "2018-05-01 10:00:00"}))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def write_gowalla(path: Path) -> None:
    _gzip(path, [f"{u[1:] or 9}\t{_iso(t)}\t30.2\t-97.7\t{i[1:] or 99}" for u, i, t in EVENTS])


def write_lastfm(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f'user_{u}\t{_iso(t)}\t\tArtist {i}\tmbid-{t}\tSong "{i}"' for u, i, t in EVENTS]
    path.write_text("\n".join(lines) + "\n")


WRITERS = {
    "amazon-beauty": write_amazon, "amazon-sports": write_amazon, "amazon-toys": write_amazon,
    "amazon-games": write_amazon, "steam": write_steam, "yelp": write_yelp,
    "gowalla": write_gowalla, "lastfm-1k": write_lastfm,
}  # fmt: skip


def test_every_recipe_is_registered_and_tested():
    assert set(WRITERS) == set(RECIPES)
    assert dataset_names()[-len(RECIPES) :] == list(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_reads_its_source_format_and_applies_the_5_core(name, tmp_path, monkeypatch):
    recipe = RECIPES[name]
    WRITERS[name](tmp_path / name / recipe.file)
    fits = Expected(6, 6, 36, "this test", strict=True)
    monkeypatch.setitem(DATASETS.entries, name, dataclasses.replace(recipe, expected_figures=fits))
    raw = load_raw(name, data_dir=tmp_path)
    frame = raw.frame
    assert (frame["user"].nunique(), frame["item"].nunique(), len(frame)) == (6, 6, 36)
    assert frame["timestamp"].is_monotonic_increasing  # the files are written in time order
    assert raw.name == name and raw.source.endswith(recipe.file)


def test_amazon_fields_are_read_exactly(tmp_path):
    write_amazon(tmp_path / "amazon-toys" / RECIPES["amazon-toys"].file)
    with pytest.raises(InputError):  # the real figures do not fit the small file: strict
        load_raw("amazon-toys", data_dir=tmp_path)
    frame = dumps.DUMP_READERS["amazon"](tmp_path / "amazon-toys" / RECIPES["amazon-toys"].file)
    assert frame.iloc[0].tolist() == ["u0", "i0", 1_400_000_000, 4.0]


def test_steam_reads_quoted_names_and_yelp_keeps_2019_only(tmp_path):
    write_steam(tmp_path / "s.json.gz")
    users = set(dumps.DUMP_READERS["steam"](tmp_path / "s.json.gz")["user"])
    assert "O'Neil" in users
    write_yelp(tmp_path / "y.json")
    assert "old" not in set(dumps.DUMP_READERS["yelp"](tmp_path / "y.json")["item"])


def test_strict_mismatch_is_an_error_loose_one_a_warning(tmp_path, monkeypatch, caplog):
    write_amazon(tmp_path / "amazon-beauty" / RECIPES["amazon-beauty"].file)
    with pytest.raises(
        InputError,
        match=r"gives 6 users/6 items/36 interactions, expected "
        r"22,363/12,101/198,502 .*truncated, altered or another version",
    ):
        load_raw("amazon-beauty", data_dir=tmp_path)
    write_yelp(tmp_path / "yelp" / RECIPES["yelp"].file)
    with caplog.at_level(logging.WARNING):
        assert len(load_raw("yelp", data_dir=tmp_path).frame) == 36
    assert "expected 30,431/20,033/316,354" in caplog.text


def test_the_recipe_k_core_holds_after_the_repeats_policy(tmp_path):
    """A user whose 5 check-ins are one place, and a place checked into 5 times by one user,
    pass the recipe's 5-core on raw events; under --repeats first each has one event left,
    so the 5-core is applied again and they leave (under keep they stay)."""
    from protocols.data import to_implicit

    extra = [("u99", "i77", 1_600_000_000 + 60 * k) for k in range(5)]
    lines = [f"{u[1:]}\t{_iso(t)}\t30.2\t-97.7\t{i[1:]}" for u, i, t in CORE + extra]
    _gzip(tmp_path / "gowalla" / RECIPES["gowalla"].file, lines)
    raw = load_raw("gowalla", data_dir=tmp_path)
    assert len(raw.frame) == 41 and raw.min_user == raw.min_item == 5
    first = to_implicit(raw, repeats="first")
    assert (first.n_users, first.n_items, first.stats["interactions"]) == (6, 6, 36)
    kept = to_implicit(raw, repeats="keep")
    assert (kept.n_users, kept.n_items, kept.stats["interactions"]) == (7, 7, 41)


def test_yelp_window_is_s3rec_s_and_bad_fields_name_their_line(tmp_path):
    path = tmp_path / "y.json"
    dates = ["2018-12-31 23:59:59", "2019-01-01 00:00:00", "2019-12-31 00:00:00",
             "2019-12-31 00:00:01", "2020-01-01 00:00:00"]  # fmt: skip
    reviews = [{"user_id": "u", "business_id": f"b{n}", "stars": 4.0, "date": d}
               for n, d in enumerate(dates)]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in reviews) + "\n")
    assert dumps.DUMP_READERS["yelp"](path)["item"].tolist() == ["b1", "b2"]
    reviews[2]["stars"] = "five"
    path.write_text("\n\n".join(json.dumps(r) for r in reviews) + "\n")  # blank lines between
    with pytest.raises(InputError, match=r"y.json: line 5: rating 'five' is not a number"):
        dumps.DUMP_READERS["yelp"](path)
    lastfm = tmp_path / "l.tsv"
    lastfm.write_text(f"user_1\t{_iso(5)}\t\tA\tm\tS\n\nuser_1\t{_iso(6)}\t\t\tm\tS\n")
    with pytest.raises(InputError, match=r"l.tsv: line 3: a field is empty"):
        dumps.DUMP_READERS["lastfm"](lastfm)


def test_missing_file_names_file_source_and_folder(tmp_path):
    with pytest.raises(InputError) as error:
        load_raw("amazon-beauty", data_dir=tmp_path)
    message = str(error.value)
    assert "reviews_Beauty_5.json.gz" in message and "jmcauley.ucsd.edu" in message
    assert str(tmp_path / "amazon-beauty") in message and "\n" not in message


def test_truncated_gzip_and_malformed_lines_are_refused(tmp_path):
    path = tmp_path / "amazon-beauty" / RECIPES["amazon-beauty"].file
    write_amazon(path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_raw("amazon-beauty", data_dir=tmp_path)
    _gzip(path, ['{"reviewerID": "a", "asin": "b", "overall": 1, "unixReviewTime": 5}', "{oops"])
    with pytest.raises(InputError, match=r"reviews_Beauty_5.json.gz: line 2: not JSON"):
        load_raw("amazon-beauty", data_dir=tmp_path)
    _gzip(path, ['{"reviewerID": "a", "asin": "b", "overall": 1}'])
    with pytest.raises(InputError, match="line 1: no 'unixReviewTime' field"):
        load_raw("amazon-beauty", data_dir=tmp_path)
    gowalla = tmp_path / "gowalla" / RECIPES["gowalla"].file
    _gzip(gowalla, ["1\t2010-10-19T23:55:27Z\t30.2\t-97.7\t22", "1\tlater\t30.2\t-97.7\t23"])
    with pytest.raises(InputError, match="'later' is not a number or an ISO date"):
        load_raw("gowalla", data_dir=tmp_path)


def test_a_recipe_data_set_runs_through_the_pipeline(tmp_path, monkeypatch):
    from benchmark.api import build_config
    from benchmark.pipeline import run_one

    # 25 users, each reviewing 22 of 25 items (more items than the stored top-20 lists)
    rows = [
        (f"u{u}", f"i{(u + k) % 25}", 1_400_000_000 + 86_400 * k)
        for u in range(25)
        for k in range(22)
    ]
    lines = [
        json.dumps({"reviewerID": u, "asin": i, "overall": 5.0, "unixReviewTime": t})
        for u, i, t in rows
    ]
    _gzip(tmp_path / "amazon-beauty" / RECIPES["amazon-beauty"].file, lines)
    fits = Expected(25, 25, 550, "this test", strict=True)
    monkeypatch.setitem(
        DATASETS.entries,
        "amazon-beauty",
        dataclasses.replace(RECIPES["amazon-beauty"], expected_figures=fits),
    )
    monkeypatch.setenv("SEQREC_DATA", str(tmp_path))
    record, _ = run_one(build_config("pop", dataset="amazon-beauty", num_negatives=2, ks=(1, 2)))
    assert record.dataset["name"] == "amazon-beauty" and record.dataset["interactions"] == 550
    assert record.metrics["full"]["test"]["users"] == 25
