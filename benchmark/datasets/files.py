"""Parse a delimited interaction file (csv, tsv, MovieLens' `::`) into a frame.

Interactions become user, item, timestamp (int64) and, when present, rating; `columns` says
which file column holds which field (see `parse_interactions`). Timestamps may be whole
numbers, float seconds or ISO dates (`to_clock`). Ids are kept as given (`id_values`).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from protocols.errors import InputError

log = logging.getLogger(__name__)

FIELDS = ("user", "item", "timestamp", "rating")


def parse_interactions(
    data: bytes, where: str, sep: str, columns: str | None, text_ids: bool = True
) -> pd.DataFrame:
    """user, item, timestamp (int64; the row number when the file has none), rating if present.

    `columns`: None (a header naming user, item, timestamp, rating), a header mapping
    'user=UserID,item=MovieID,...', or names in order for a file without a header
    ('user,item,rating,timestamp'; '-' or '_' skips a column). Ids are read as text and kept
    as given (`id_values`); `text_ids=False` lets pandas parse them, for files whose ids are
    known to be plain integers (the checksummed MovieLens files: much less memory).
    """
    header, names, rename, required = _layout(columns)
    sep, data = _one_char_separator(sep, data, where)
    id_columns = [name for name, field in rename.items() if field in ("user", "item")]
    try:
        table = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            header=0 if header else None,
            names=names,
            dtype=dict.fromkeys(id_columns, str) if text_ids else None,
            keep_default_na=False,
            na_values=[""],  # only an empty field is missing: 'NA' may be an id
            low_memory=False,  # one type per column, not one per chunk
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{where} is empty") from None
    except pd.errors.ParserError as error:
        raise InputError(f"{where}: {_parser_problem(error)}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{where}: not UTF-8 text (byte {error.start})") from None
    if not isinstance(table.index, pd.RangeIndex):  # surplus leading fields became an index
        line = _line_number(data, 0, header)
        raise InputError(f"{where}: line {line}: more fields than the header or --columns name")
    table.columns = [str(name).strip() for name in table.columns]
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise InputError(
            f"{where}: no column {missing[0]!r} (found: {', '.join(table.columns)}); name them "
            f"with --columns user=COL,item=COL,timestamp=COL, or give the order of a file "
            f"without a header: --columns user,item,rating,timestamp"
        )
    table = table[[name for name in rename if name in table.columns]].rename(columns=rename)
    return _checked(table, data, where, header)


def _layout(columns: str | None) -> tuple[bool, list[str] | None, dict[str, str], list[str]]:
    """(has header, names for a header-less file, file column -> field, columns that must exist)."""
    if columns is None:
        return True, None, {field: field for field in FIELDS}, ["user", "item"]
    parts = [part.strip() for part in columns.split(",")]
    if "=" in columns:  # a header, some of whose columns are renamed
        pairs = [(part.partition("=")[0].strip(), part.partition("=")[2].strip()) for part in parts]
        _check_fields([field if name else "" for field, name in pairs], columns, need_ids=False)
        rename = {name: field for field, name in pairs}
        defaults = {f: f for f in FIELDS if f not in rename.values() and f not in rename}
        required = [*rename, *(f for f in ("user", "item") if f in defaults)]
        return True, None, {**rename, **defaults}, required
    fields = [part for part in parts if part not in ("-", "_")]
    _check_fields(fields, columns, need_ids=True)
    names = [part if part not in ("-", "_") else f"-{i}" for i, part in enumerate(parts)]
    return False, names, {field: field for field in fields}, fields


def _check_fields(fields: list[str], columns: str, need_ids: bool) -> None:
    """Known fields, each once; user and item among them for a file without a header."""
    valid = set(fields) <= set(FIELDS) and len(set(fields)) == len(fields)
    if not valid or need_ids and not {"user", "item"} <= set(fields):
        raise InputError(
            f"--columns '{columns}': name the fields {', '.join(FIELDS)} once each (user and "
            f"item needed), as user=COL,... for a file with a header or in file order without one"
        )


def _one_char_separator(sep: str, data: bytes, where: str) -> tuple[str, bytes]:
    """pandas' fast parser takes one character: replace a longer separator such as '::'."""
    sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
    if not sep:
        raise InputError("--sep must not be empty")
    if len(sep) == 1:
        return sep, data
    for stand_in in ("\x1f", "\x1e", "\x1d"):
        if stand_in.encode() not in data:
            return stand_in, data.replace(sep.encode(), stand_in.encode())
    raise InputError(f"{where}: cannot use the separator {sep!r} with this file")


def _parser_problem(error: Exception) -> str:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
    if found:
        expected, line, saw = found.groups()
        return f"line {line}: {saw} fields, expected {expected}"
    return " ".join(str(error).split())


def _line_number(data: bytes, row: int, header: bool) -> int:
    """The 1-based file line of data row `row` (pandas skips blank lines, so count them out)."""
    text = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(text == ord("\n"))
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(text)]])
    lengths = stops - starts
    has_cr = (lengths > 0) & (text[np.maximum(stops - 1, 0)] == ord("\r"))
    filled = np.flatnonzero(lengths - has_cr > 0)
    index = row + int(header)
    return int(filled[index]) + 1 if index < len(filled) else len(lengths)


def _checked(table: pd.DataFrame, data: bytes, where: str, header: bool) -> pd.DataFrame:
    """The interaction frame with checked types: ids as given, int64 timestamps, float ratings."""

    def fail(row: int, problem: str) -> None:
        raise InputError(f"{where}: line {_line_number(data, row, header)}: {problem}")

    if table.empty:
        raise InputError(f"{where} has no data rows")
    for field in table.columns:
        empty = table[field].isna().to_numpy()
        if empty.any():
            fail(int(np.argmax(empty)), f"empty or missing {field}")
    out = {"user": _ids(table["user"]), "item": _ids(table["item"])}
    if "timestamp" in table.columns:
        out["timestamp"] = to_clock(table["timestamp"], fail)
    if "rating" in table.columns:
        out["rating"] = _numbers(table["rating"], fail)
    if "timestamp" not in out:
        log.info("%s has no timestamp column: file order is taken as time order", where)
        out["timestamp"] = np.arange(len(table), dtype=np.int64)
    return pd.DataFrame({field: out[field] for field in FIELDS if field in out}, copy=False)


def _numbers(column: pd.Series, fail: Callable[[int, str], None]) -> np.ndarray:
    """float64 values; `fail` names the first row that is not a number."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        fail(row, f"{column.name} '{column.iloc[row]}' is not a number")
    return values


def to_clock(column: pd.Series, fail: Callable[[int, str], None]) -> np.ndarray:
    """int64 times: whole numbers as given; float seconds and ISO dates (naive = UTC) as epoch
    seconds, or as epoch microseconds for the whole column when any value has a fraction.

    The same instants give the same values whichever way a file writes them.
    """
    if column.dtype.kind in "iu":
        return column.to_numpy(np.int64)
    seconds = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    if column.dtype.kind == "O" and np.isnan(seconds).all():  # no number at all: dates
        dates = pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
        bad = dates.isna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            fail(row, f"timestamp '{column.iloc[row]}' is not a number or an ISO date")
        micros = ((dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy()
        micros = micros.astype(np.int64)
        return micros // 1_000_000 if (micros % 1_000_000 == 0).all() else micros
    bad = ~np.isfinite(seconds)
    if bad.any():
        row = int(np.argmax(bad))
        fail(row, f"timestamp '{column.iloc[row]}' is not a number or an ISO date")
    if (np.floor(seconds) == seconds).all():
        return seconds.astype(np.int64)
    log.info("timestamps with fractions of a second: kept as microseconds")
    return np.round(seconds * 1e6).astype(np.int64)


def _ids(values: pd.Series) -> np.ndarray:
    if values.dtype.kind in "iu":  # parsed by pandas (text_ids=False)
        return values.to_numpy(np.int64)
    return id_values(values.astype(str).to_numpy(dtype=str))


def id_values(text: np.ndarray) -> np.ndarray:
    """Ids as given: int64 when every id is written as a plain integer ('7', '-3'), else the
    text itself, so that '007' and '7', or '1.0' and '1', stay two ids. Surrounding spaces are
    not part of an id."""
    text = np.char.strip(text)
    try:
        numbers = text.astype(np.int64)
    except (ValueError, OverflowError):
        return text.astype(object)
    return numbers if (numbers.astype(str) == text).all() else text.astype(object)


def read_bytes(path: Path) -> bytes:
    """A file's bytes; an unreadable file is one InputError."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
