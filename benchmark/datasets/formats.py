"""The file formats of one's own data, one table: `FILE_FORMATS[kind](data, where)`.

- csv:PATH    a delimited file with or without a header (`files.parse_interactions`; the
              separator and columns come from --sep and --columns).
- seq:PATH    one user per line, `user item1 item2 ...` (whitespace-separated, time order), as
              distributed by S3-Rec-style repositories.
- pairs:PATH  one event per line, `user item`, each user's events in time order (SASRec's files).
- atomic:PATH RecBole's atomic `.inter` file: tab-separated, a typed header such as
              `user_id:token<TAB>item_id:token<TAB>rating:float<TAB>timestamp:float`.

seq and pairs files carry no clock: an event's timestamp is its position in the user's
sequence (0, 1, ...), so a seq file and a pairs file with the same sequences are the same
data set (same fingerprint), whatever the order of users in the file. A malformed line is an
InputError naming the file and the line.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from benchmark.datasets.files import id_values, parse_interactions
from protocols.errors import InputError

POSITION_CLOCK = "sequence position"
ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")
ATOMIC_FIELDS = {"user_id": "user", "item_id": "item", "rating": "rating", "timestamp": "timestamp"}


def read_seq(data: bytes, where: str) -> pd.DataFrame:
    """user, item, timestamp (the position in the user's sequence) from a seq file."""
    users: list[str] = []
    items: list[str] = []
    positions: list[int] = []
    first_line: dict[str, int] = {}
    for number, fields in _lines(data, where):
        if len(fields) < 2:
            raise InputError(f"{where}: line {number}: expected 'user item1 item2 ...'")
        user = fields[0]
        if user in first_line:
            raise InputError(
                f"{where}: line {number}: user {user} again (first on line {first_line[user]}); "
                f"a seq file has one line per user"
            )
        first_line[user] = number
        users += [user] * (len(fields) - 1)
        items += fields[1:]
        positions += range(len(fields) - 1)
    return _frame(users, items, positions, where)


def read_pairs(data: bytes, where: str) -> pd.DataFrame:
    """user, item, timestamp (the position in the user's sequence) from a pairs file."""
    users: list[str] = []
    items: list[str] = []
    for number, fields in _lines(data, where):
        if len(fields) != 2:
            raise InputError(f"{where}: line {number}: {len(fields)} fields, expected 'user item'")
        users.append(fields[0])
        items.append(fields[1])
    positions = pd.Series(users).groupby(users, sort=False).cumcount().to_numpy()
    return _frame(users, items, positions, where)


def read_atomic(data: bytes, where: str) -> pd.DataFrame:
    """user, item, timestamp and rating (when the header has them) from a RecBole .inter file."""
    header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip("\r\n\ufeff")
    names = header.split("\t")
    for name in names:
        field, colon, kind = name.partition(":")
        if not colon or not field or kind not in ATOMIC_TYPES:
            raise InputError(
                f"{where}: line 1: header field {name!r} is not NAME:TYPE with TYPE one of "
                f"{', '.join(ATOMIC_TYPES)} (a RecBole .inter header, tab-separated)"
            )
    by_field = {name.partition(":")[0]: name for name in names}
    for needed in ("user_id", "item_id"):
        if needed not in by_field:
            raise InputError(
                f"{where}: line 1: no {needed} field in the header (found: {', '.join(by_field)})"
            )
    renames = [f"{ATOMIC_FIELDS[f]}={by_field[f]}" for f in ATOMIC_FIELDS if f in by_field]
    return parse_interactions(data, where, "\t", ",".join(renames))


def read_csv(
    data: bytes, where: str, sep: str | None = None, columns: str | None = None
) -> pd.DataFrame:
    """user, item, timestamp and rating (when present) from a delimited file."""
    return parse_interactions(data, where, sep or ",", columns)


FILE_FORMATS = {"csv": read_csv, "seq": read_seq, "pairs": read_pairs, "atomic": read_atomic}


def _lines(data: bytes, where: str) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, whitespace-separated fields) of every non-blank line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{where}: not UTF-8 text (byte {error.start})") from None
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if fields:
            yield number, fields


def _frame(users: list[str], items: list[str], positions, where: str) -> pd.DataFrame:
    if not users:
        raise InputError(f"{where} has no data rows")
    frame = pd.DataFrame(
        {
            "user": id_values(np.asarray(users, dtype=str)),
            "item": id_values(np.asarray(items, dtype=str)),
            "timestamp": np.asarray(positions, dtype=np.int64),
        }
    )
    frame.attrs["clock"] = POSITION_CLOCK  # no global time: a temporal split is refused
    return frame
