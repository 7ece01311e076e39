"""Read a data set into `RawData`: a registered set, one's own file, or synthetic data.

Registered sets are the MovieLens sets (here) and those with a preprocessing recipe
(`benchmark.recipes`); one's own files are csv: (`benchmark.readers`), seq:, pairs: and
atomic: (`benchmark.formats`).

A MovieLens set is looked for in the data folder (`data_dir`, else env SEQREC_DATA, else
$XDG_CACHE_HOME/seqrec-bench/data or ~/.cache/seqrec-bench/data), in this order:
  1. the extracted folder as GroupLens ships it, e.g. <data>/ml-1m/ratings.dat;
  2. the zip <data>/ml-1m.zip, checked by size and sha256, then extracted (read in place when the
     data folder is read-only);
  3. a download from files.grouplens.org into a temporary file, checked, then renamed.
Every ratings file must have its published number of rows: a truncated file is refused.
Rows keep file order; user and item keep their original ids.
The files themselves are parsed by `benchmark.readers`.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from benchmark.formats import READERS
from benchmark.readers import FORMATS, parse_interactions
from benchmark.recipes import RECIPES, load_recipe
from protocols import synthetic
from protocols.errors import InputError
from protocols.types import RawData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set: where it comes from and what its ratings file must hold."""

    name: str
    url: str
    zip_size: int  # bytes
    sha256: str
    folder: str  # the folder inside the zip, and in the data folder once extracted
    ratings_file: str
    expected_rows: int
    parser: str  # a key of readers.FORMATS
    partial_file: str = ""  # a stand-in that is complete only for ratings >= 4 (ML-1M here)
    partial_rows: int = 0


# Zip sizes (bytes) and sha256 as recorded by tensorflow-datasets
# (github.com/tensorflow/datasets, tensorflow_datasets/url_checksums/movielens.txt).
_CHECKSUMS = {
    "ml-100k": (4_924_029, "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
    "ml-1m": (5_917_549, "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
    "ml-20m": (198_702_078, "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"),
    "ml-25m": (261_978_986, "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa"),
    "ml-latest-small": (
        978_202,
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
}


def _grouplens(name: str, ratings: str, rows: int, parser: str, **partial) -> DatasetSpec:
    size, sha256 = _CHECKSUMS[name]
    url = f"https://files.grouplens.org/datasets/movielens/{name}.zip"
    return DatasetSpec(name, url, size, sha256, name, ratings, rows, parser, **partial)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        _grouplens("ml-100k", "u.data", 100_000, "ml-100k"),
        _grouplens(
            "ml-1m", "ratings.dat", 1_000_209, "ml-1m",
            partial_file="ratings_partial_known_ts.dat", partial_rows=855_005,
        ),
        _grouplens("ml-20m", "ratings.csv", 20_000_263, "ml-csv"),
        _grouplens("ml-25m", "ratings.csv", 25_000_095, "ml-csv"),
        _grouplens("ml-latest-small", "ratings.csv", 100_836, "ml-csv"),
    )
}  # fmt: skip


def dataset_names() -> list[str]:
    """The registered data set names: MovieLens, then the sets with a recipe."""
    return [*DATASETS, *RECIPES]


def load_raw(
    spec: str,
    *,
    sep: str | None = None,
    columns: str | None = None,
    data_dir: str | Path | None = None,
    min_rating_hint: float | None = None,
) -> RawData:
    """Read `spec`: a registered name, `csv:PATH`, `seq:PATH`, `pairs:PATH`, `atomic:PATH`
    (see `benchmark.formats`) or `synthetic[:key=value,...]`.

    `sep` and `columns` describe a csv file; `min_rating_hint` (the --min-rating that will be
    applied later) lets ML-1M fall back to a file that is complete only for ratings >= 4.
    """
    text = spec.strip()
    kind, _, rest = text.partition(":")
    if kind != "csv" and (sep is not None or columns is not None):
        raise InputError(f"--sep and --columns apply to csv:PATH data sets only, not '{spec}'")
    if kind == "csv":
        return _load_csv(rest, sep, columns)
    if kind in READERS:
        path = _own_file(kind, rest)
        return RawData(path.stem, READERS[kind](_read_bytes(path), str(path)), None, str(path))
    if kind == "synthetic":
        return synthetic.generate(**_synthetic_options(rest))
    if text.lower() in DATASETS:
        return _load_registered(DATASETS[text.lower()], data_root(data_dir), min_rating_hint)
    if text.lower() in RECIPES:
        return load_recipe(RECIPES[text.lower()], data_root(data_dir))
    close = difflib.get_close_matches(text.lower(), [*dataset_names(), "synthetic"], n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    known = ", ".join([*dataset_names(), "csv:PATH", *(f"{k}:PATH" for k in READERS), "synthetic"])
    raise InputError(f"unknown dataset '{spec}'{hint}; known: {known}")


def data_root(data_dir: str | Path | None = None) -> Path:
    """The folder that holds (or will hold) the registered data sets."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("SEQREC_DATA"):
        return Path(os.environ["SEQREC_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "seqrec-bench" / "data"


# ----------------------------------------------------------------------------- csv and synthetic


def _own_file(kind: str, path_text: str) -> Path:
    if not path_text.strip():
        raise InputError(f"{kind}: needs a path, e.g. {kind}:data/events.txt")
    path = Path(path_text.strip()).expanduser()
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    return path


def _load_csv(path_text: str, sep: str | None, columns: str | None) -> RawData:
    path = _own_file("csv", path_text)
    frame = parse_interactions(_read_bytes(path), str(path), sep or ",", columns)
    return RawData(path.stem, frame, None, str(path))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None


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


# ----------------------------------------------------------------------------- registered sets


@dataclass(frozen=True)
class _Files:
    """The files of one registered set: in its extracted folder, or inside its zip."""

    folder: Path
    zip_path: Path | None = None

    def where(self, name: str) -> str:
        if self.zip_path is None:
            return str(self.folder / name)
        return f"{self.zip_path}:{self.folder.name}/{name}"

    def read(self, name: str) -> bytes | None:
        """The file's bytes, or None when it is not there."""
        if self.zip_path is None:
            path = self.folder / name
            return _read_bytes(path) if path.is_file() else None
        with zipfile.ZipFile(self.zip_path) as archive:
            try:
                return archive.read(f"{self.folder.name}/{name}")
            except KeyError:
                return None


def _load_registered(spec: DatasetSpec, root: Path, min_rating_hint: float | None) -> RawData:
    files, ratings_name = _locate(spec, root, min_rating_hint)
    where = files.where(ratings_name)
    data = files.read(ratings_name)
    if data is None:
        raise InputError(f"{where} is missing: put the complete {spec.name} folder there")
    sep, columns, read_items = FORMATS[spec.parser]
    frame = parse_interactions(data, where, sep, columns, text_ids=False)  # checked below
    expected = spec.partial_rows if ratings_name == spec.partial_file else spec.expected_rows
    if len(frame) != expected:
        raise InputError(
            f"{where} has {len(frame):,} rows, expected {expected:,}: the file is truncated "
            f"or corrupt; replace it with the one in {spec.url}"
        )
    if frame["user"].dtype.kind != "i" or frame["item"].dtype.kind != "i":
        raise InputError(f"{where}: user and item ids must be integers; the file is corrupt")
    try:
        items = read_items(files)
    except (ValueError, IndexError, KeyError) as error:  # ParserError, UnicodeDecodeError too
        reason = " ".join(str(error).split())
        raise InputError(
            f"{spec.name}: the item table next to {where} is malformed ({reason})"
        ) from None
    if items is None:
        log.warning("%s: no item file next to %s: titles and genres are unknown", spec.name, where)
    return RawData(spec.name, frame, items, where)


def _locate(spec: DatasetSpec, root: Path, min_rating_hint: float | None) -> tuple[_Files, str]:
    """Where the ratings are, and the ratings file's name: folder, then zip, then download."""
    folder = root / spec.folder
    if (folder / spec.ratings_file).is_file():
        return _Files(folder), spec.ratings_file
    zip_path = root / f"{spec.name}.zip"
    if zip_path.is_file():
        return _open_zip(spec, zip_path, root), spec.ratings_file
    if spec.partial_file and (folder / spec.partial_file).is_file():
        return _Files(folder), _partial(spec, folder, min_rating_hint)
    try:
        _download(spec, zip_path)
    except OSError as error:  # also URLError, timeouts, a read-only data folder
        reason = " ".join(str(error).split())
        raise InputError(
            f"{spec.name} is not in {root} and could not be downloaded ({reason}): put "
            f"{spec.name}.zip (from {spec.url}) in {root}, or extract it there so that "
            f"{folder / spec.ratings_file} exists"
        ) from None
    return _open_zip(spec, zip_path, root), spec.ratings_file


def _partial(spec: DatasetSpec, folder: Path, min_rating_hint: float | None) -> str:
    """The partial ratings file may stand in only when ratings below 4 will be dropped."""
    if min_rating_hint is None or min_rating_hint < 4:
        raise InputError(
            f"{folder} has no {spec.ratings_file}, only {spec.partial_file}, which is complete "
            f"only for ratings >= 4: use --min-rating 4, or put the full {spec.ratings_file} in "
            f"{folder} (or {spec.name}.zip from {spec.url} in {folder.parent})"
        )
    log.warning(
        "%s: %s is missing; reading %s, which holds every rating >= 4 "
        "(exactly the real data set with --min-rating 4, but not the full ratings)",
        spec.name,
        spec.ratings_file,
        folder / spec.partial_file,
    )
    return spec.partial_file


def _open_zip(spec: DatasetSpec, zip_path: Path, root: Path) -> _Files:
    _verify(spec, zip_path)
    if _extract(spec, zip_path, root):
        return _Files(root / spec.folder)
    return _Files(root / spec.folder, zip_path)


def _verify(spec: DatasetSpec, path: Path) -> None:
    size = path.stat().st_size
    if size != spec.zip_size:
        raise InputError(
            f"{path} has {size:,} bytes, not the {spec.zip_size:,} of the GroupLens file "
            f"(incomplete or a different file): delete it and try again"
        )
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != spec.sha256:
        raise InputError(
            f"{path} has sha256 {digest.hexdigest()}, not {spec.sha256} of the GroupLens file "
            f"(corrupt or a different file): delete it and try again"
        )


def _extract(spec: DatasetSpec, zip_path: Path, root: Path) -> bool:
    """Extract next to the zip (each file moved into place whole); False where we may not write."""
    try:
        scratch = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    except OSError as error:
        log.info("cannot extract %s (%s): reading it from the zip", zip_path, error)
        return False
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(scratch)
        target = root / spec.folder
        target.mkdir(exist_ok=True)
        for path in (scratch / spec.folder).iterdir():
            if not (target / path.name).exists():
                os.replace(path, target / path.name)
        log.info("extracted %s into %s", zip_path, target)
        return (target / spec.ratings_file).is_file()
    except OSError as error:
        log.warning("cannot extract %s (%s): reading it from the zip", zip_path, error)
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _download(spec: DatasetSpec, zip_path: Path) -> None:
    """Download into a temporary file next to `zip_path`, verify it, then rename it into place."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    handle, part_name = tempfile.mkstemp(prefix=zip_path.name, suffix=".part", dir=zip_path.parent)
    part = Path(part_name)
    log.info("downloading %s (%.1f MB) to %s", spec.url, spec.zip_size / 1e6, zip_path)
    try:
        with open(handle, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        _verify(spec, part)
        os.replace(part, zip_path)
    finally:
        part.unlink(missing_ok=True)


if __name__ == "__main__":  # python -m benchmark.datasets list | info SPEC
    from benchmark.catalog import main

    raise SystemExit(main())
