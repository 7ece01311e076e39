"""Read a data set into `RawData`: a registered set, one's own file, or synthetic data.

    load_raw("ml-1m", min_rating_hint=4)     # registered (`registry.DATASETS`)
    load_raw("seq:data/Beauty.txt")           # one's own file (`formats.FILE_FORMATS`)
    load_raw("synthetic:n_users=200")         # generated (`protocols.synthetic`)

Registered sets live in the data folder (`data_root`): `data_dir`, else env SEQREC_DATA, else
$XDG_CACHE_HOME/seqrec-bench/data or ~/.cache/seqrec-bench/data.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from benchmark.datasets.files import read_bytes
from benchmark.datasets.formats import FILE_FORMATS
from benchmark.datasets.registry import DATASETS
from protocols import synthetic
from protocols.errors import InputError
from protocols.types import RawData


def dataset_names() -> list[str]:
    """The registered data set names, in registration order (MovieLens, then the recipes)."""
    return list(DATASETS)


def load_raw(
    spec: str,
    *,
    sep: str | None = None,
    columns: str | None = None,
    data_dir: str | Path | None = None,
    min_rating_hint: float | None = None,
) -> RawData:
    """Read `spec`: a registered name, `csv:PATH`, `seq:PATH`, `pairs:PATH`, `atomic:PATH` or
    `synthetic[:key=value,...]`.

    `sep` and `columns` describe a csv file; `min_rating_hint` (the --min-rating that will be
    applied later) lets ML-1M fall back to a file that is complete only for ratings >= 4.
    """
    text = spec.strip()
    kind, _, rest = text.partition(":")
    if kind != "csv" and (sep is not None or columns is not None):
        raise InputError(f"--sep and --columns apply to csv:PATH data sets only, not '{spec}'")
    if kind in FILE_FORMATS:
        path = _own_file(kind, rest)
        options = {"sep": sep, "columns": columns} if kind == "csv" else {}
        frame = FILE_FORMATS[kind](read_bytes(path), str(path), **options)
        return RawData(path.stem, frame, None, str(path))
    if kind == "synthetic":
        return synthetic.generate(**_synthetic_options(rest))
    return DATASETS.get(text.lower()).load(data_root(data_dir), min_rating_hint)


def data_root(data_dir: str | Path | None = None) -> Path:
    """The folder that holds (or will hold) the registered data sets."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("SEQREC_DATA"):
        return Path(os.environ["SEQREC_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "seqrec-bench" / "data"


def _own_file(kind: str, path_text: str) -> Path:
    if not path_text.strip():
        raise InputError(f"{kind}: needs a path, e.g. {kind}:data/events.txt")
    path = Path(path_text.strip()).expanduser()
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    return path


def _synthetic_options(text: str) -> dict[str, int | float]:
    valid = list(inspect.signature(synthetic.generate).parameters)
    options: dict[str, int | float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, _, value = (s.strip() for s in part.partition("="))
        if key not in valid:
            raise InputError(f"unknown synthetic option '{key}'; valid: {', '.join(valid)}")
        options[key] = _number(key, value)
    return options


def _number(key: str, value: str) -> int | float:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"synthetic option {key} needs a number, got '{value}'") from None
    return int(number) if number.is_integer() else number
