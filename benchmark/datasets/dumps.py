"""Parsers of the raw files that registered (non-MovieLens) data sets are made from.

Each reads one file in its source's own format and returns the events in file order as a
frame with user, item, timestamp (int64) and, where the source has one, rating. A line that
cannot be read is an InputError naming the file and the line; a truncated gzip file too.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.datasets.files import to_clock
from protocols.errors import InputError

Row = tuple  # (line number, user, item, timestamp text or number[, rating])


def read_amazon(path: Path) -> pd.DataFrame:
    """McAuley's 2014 review files (reviews_<Category>_5.json.gz): one JSON object per line
    with reviewerID, asin, overall (the rating) and unixReviewTime (seconds)."""
    fields = ("reviewerID", "asin", "unixReviewTime", "overall")
    rows = ((n, *_fields(_json(text, path, n), fields, path, n)) for n, text in _lines(path))
    return _frame(rows, path, ("user", "item", "timestamp", "rating"))


# steam_reviews.json.gz holds Python literals (single quotes), not JSON: read the three
# fields with patterns instead of evaluating 7.8M lines.
_QUOTED = r"""(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")"""
_STEAM = {name: re.compile(rf"'{name}': {_QUOTED}") for name in ("username", "product_id", "date")}


def read_steam(path: Path) -> pd.DataFrame:
    """Kang and McAuley's steam_reviews.json.gz: one review per line with username,
    product_id and date (YYYY-MM-DD)."""

    def row(number: int, text: str) -> Row:
        values = [number]
        for name, pattern in _STEAM.items():
            found = pattern.search(text)
            if found is None:
                raise InputError(f"{path}: line {number}: no '{name}' field")
            values.append(found.group(1) if found.group(1) is not None else found.group(2))
        return tuple(values)

    return _frame((row(n, text) for n, text in _lines(path)), path, ("user", "item", "timestamp"))


# S3-Rec's window, compared as text as its script does: a review of 31 December after
# midnight is left out, which its published figures reflect.
YELP_WINDOW = ("2019-01-01 00:00:00", "2019-12-31 00:00:00")


def read_yelp(path: Path, window: tuple[str, str] = YELP_WINDOW) -> pd.DataFrame:
    """yelp_academic_dataset_review.json: one JSON review per line (user_id, business_id,
    stars, date 'YYYY-MM-DD HH:MM:SS'); only reviews with first <= date <= last are kept."""
    fields = ("user_id", "business_id", "date", "stars")
    first, last = window
    years = {str(y) for y in range(int(first[:4]), int(last[:4]) + 1)}
    markers = [f'"date":"{y}' for y in years]  # a cheap pre-filter; the parsed date decides

    def rows() -> Iterator[Row]:
        for number, text in _lines(path):
            compact = text.replace(" ", "")
            if any(m in compact for m in markers):
                row = _fields(_json(text, path, number), fields, path, number)
                if first <= str(row[2]) <= last:
                    yield (number, *row)

    return _frame(rows(), path, ("user", "item", "timestamp", "rating"))


def read_gowalla(path: Path) -> pd.DataFrame:
    """SNAP's loc-gowalla_totalCheckins.txt.gz: user, check-in time (ISO, UTC), latitude,
    longitude, location id; tab-separated. Items are locations."""
    return _table(path, columns=[0, 4, 1], expected=5)


def read_lastfm_1k(path: Path) -> pd.DataFrame:
    """Celma's userid-timestamp-artid-artname-traid-traname.tsv (Last.fm 1K users): one play
    per line. Items are artists, by name (the artist MBID is missing on many lines)."""
    return _table(path, columns=[0, 3, 1], expected=6)


DUMP_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "amazon": read_amazon,
    "steam": read_steam,
    "yelp": read_yelp,
    "gowalla": read_gowalla,
    "lastfm": read_lastfm_1k,
}


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of each non-blank line; a truncated gzip file is refused."""
    number = 0
    try:
        with _open_text(path) as stream:
            for number, text in enumerate(stream, start=1):
                if text.strip():
                    yield number, text
    except (EOFError, OSError, zlib.error) as error:
        raise InputError(
            f"{path}: unreadable after line {number} ({' '.join(str(error).split())}): the "
            f"file is truncated or corrupt; fetch it again"
        ) from None


def _json(text: str, path: Path, number: int) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: line {number}: not JSON ({error.msg})") from None


def _fields(record: dict, names: tuple[str, ...], path: Path, number: int) -> Row:
    try:
        return tuple(record[name] for name in names)
    except KeyError as error:
        raise InputError(f"{path}: line {number}: no {error.args[0]!r} field") from None
    except TypeError:
        raise InputError(f"{path}: line {number}: not a JSON object") from None


def _frame(rows, path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows), columns=["line", *columns])
    return _typed(frame, path)


def _table(path: Path, columns: list[int], expected: int) -> pd.DataFrame:
    """A tab-separated file without header: `columns` are the user, item and time columns."""
    try:
        with _open_text(path) as stream:
            table = pd.read_csv(
                stream,
                sep="\t",
                header=None,
                quoting=csv.QUOTE_NONE,
                dtype=str,
                keep_default_na=False,
                names=list(range(expected)),
                skip_blank_lines=False,  # so that row i is line i + 1
            )
    except (EOFError, OSError, zlib.error, pd.errors.ParserError) as error:
        raise InputError(f"{path}: {' '.join(str(error).split())}") from None
    frame = table[columns].set_axis(["user", "item", "timestamp"], axis=1)
    frame.insert(0, "line", np.arange(1, len(frame) + 1))
    blank = (table.isna() | (table == "")).all(axis=1).to_numpy()
    frame = frame[~blank]
    empty = (frame.isna() | (frame == "")).any(axis=1).to_numpy()
    if empty.any():
        raise InputError(
            f"{path}: line {frame['line'].iloc[int(np.argmax(empty))]}: a field is empty"
        )
    return _typed(frame, path)


def _typed(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Ids as text, timestamps through the common clock, ratings as floats; `frame["line"]`
    is each event's line in the file, for errors."""
    lines = frame["line"].to_numpy()

    def fail(row: int, problem: str) -> None:
        raise InputError(f"{path}: line {lines[row]}: {problem}")

    if frame.empty:
        raise InputError(f"{path} holds no events")
    out = {"user": frame["user"].astype(str).to_numpy(dtype=object)}
    out["item"] = frame["item"].astype(str).to_numpy(dtype=object)
    out["timestamp"] = to_clock(frame["timestamp"].reset_index(drop=True), fail)
    if "rating" in frame.columns:
        ratings = pd.to_numeric(frame["rating"], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(ratings)
        if bad.any():
            row = int(np.argmax(bad))
            fail(row, f"rating {frame['rating'].iloc[row]!r} is not a number")
        out["rating"] = ratings
    return pd.DataFrame(out)
