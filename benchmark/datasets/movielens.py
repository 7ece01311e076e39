"""The MovieLens sets: downloaded from GroupLens, checked by size and SHA-256, then parsed.

A set is looked for in the data folder, in this order:
  1. the extracted folder as GroupLens ships it, e.g. <data>/ml-1m/ratings.dat;
  2. the zip <data>/ml-1m.zip, verified, then extracted (read in place when the data folder is
     read-only);
  3. a download from files.grouplens.org into a temporary file, verified, then renamed.
Every ratings file must have its published number of rows: a truncated file is refused.
Rows keep file order; user and item keep their original ids. The item tables (u.item,
movies.dat, movies.csv) give titles and genres.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.datasets.download import download, verify
from benchmark.datasets.files import parse_interactions, read_bytes
from protocols.errors import InputError
from protocols.types import RawData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MovieLens:
    """A GroupLens set: where it comes from and what its ratings file must hold."""

    name: str
    url: str
    zip_size: int  # bytes
    sha256: str
    folder: str  # the folder inside the zip, and in the data folder once extracted
    ratings_file: str
    expected_rows: int
    sep: str  # how the ratings file is laid out (`files.parse_interactions`)
    columns: str
    read_items: Callable[[_Files], pd.DataFrame | None]  # the item table, or None if absent
    partial_file: str = ""  # a stand-in that is complete only for ratings >= 4 (ML-1M here)
    partial_rows: int = 0

    kind = "download"
    source = "GroupLens (downloaded and checked by sha256 when missing)"

    @property
    def recipe(self) -> str:
        note = " (--min-rating 4: see docs/datasets.md)" if self.partial_file else ""
        return "grouplens-ratings: every rating is an event" + note

    @property
    def needs(self) -> str:
        return f"{self.name}.zip or {self.folder}/{self.ratings_file}"

    @property
    def expected(self) -> str:
        return f"zip sha256 {self.sha256[:12]}..., {self.expected_rows:,} ratings"

    def present(self, root: Path) -> bool:
        folder = root / self.folder
        found = (folder / self.ratings_file).is_file() or (root / f"{self.name}.zip").is_file()
        return found or bool(self.partial_file and (folder / self.partial_file).is_file())

    def load(self, root: Path, min_rating_hint: float | None = None) -> RawData:
        return _load(self, root, min_rating_hint)


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
            return read_bytes(path) if path.is_file() else None
        with zipfile.ZipFile(self.zip_path) as archive:
            try:
                return archive.read(f"{self.folder.name}/{name}")
            except KeyError:
                return None


def _load(spec: MovieLens, root: Path, min_rating_hint: float | None) -> RawData:
    files, ratings_name = _locate(spec, root, min_rating_hint)
    where = files.where(ratings_name)
    data = files.read(ratings_name)
    if data is None:
        raise InputError(f"{where} is missing: put the complete {spec.name} folder there")
    frame = parse_interactions(data, where, spec.sep, spec.columns, text_ids=False)  # checked below
    expected = spec.partial_rows if ratings_name == spec.partial_file else spec.expected_rows
    if len(frame) != expected:
        raise InputError(
            f"{where} has {len(frame):,} rows, expected {expected:,}: the file is truncated "
            f"or corrupt; replace it with the one in {spec.url}"
        )
    if frame["user"].dtype.kind != "i" or frame["item"].dtype.kind != "i":
        raise InputError(f"{where}: user and item ids must be integers; the file is corrupt")
    try:
        items = spec.read_items(files)
    except (ValueError, IndexError, KeyError) as error:  # ParserError, UnicodeDecodeError too
        reason = " ".join(str(error).split())
        raise InputError(
            f"{spec.name}: the item table next to {where} is malformed ({reason})"
        ) from None
    if items is None:
        log.warning("%s: no item file next to %s: titles and genres are unknown", spec.name, where)
    return RawData(spec.name, frame, items, where)


def _locate(spec: MovieLens, root: Path, min_rating_hint: float | None) -> tuple[_Files, str]:
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
        download(spec.url, zip_path, spec.sha256, spec.zip_size, "the GroupLens file")
    except OSError as error:  # also URLError, timeouts, a read-only data folder
        reason = " ".join(str(error).split())
        raise InputError(
            f"{spec.name} is not in {root} and could not be downloaded ({reason}): put "
            f"{spec.name}.zip (from {spec.url}) in {root}, or extract it there so that "
            f"{folder / spec.ratings_file} exists"
        ) from None
    return _open_zip(spec, zip_path, root), spec.ratings_file


def _partial(spec: MovieLens, folder: Path, min_rating_hint: float | None) -> str:
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


def _open_zip(spec: MovieLens, zip_path: Path, root: Path) -> _Files:
    verify(zip_path, spec.sha256, spec.zip_size, f"the GroupLens file {spec.url}")
    if _extract(spec, zip_path, root):
        return _Files(root / spec.folder)
    return _Files(root / spec.folder, zip_path)


def _extract(spec: MovieLens, zip_path: Path, root: Path) -> bool:
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


def _item_frame(ids: list[int], titles: list[str], genres: list[str]) -> pd.DataFrame:
    """Indexed by item id: title, and genres as a tuple ('(no genres listed)' means none)."""
    none = ("", "(no genres listed)")
    tuples = [() if text in none else tuple(text.split("|")) for text in genres]
    index = pd.Index(np.asarray(ids, dtype=np.int64), name="item")
    return pd.DataFrame({"title": list(titles), "genres": tuples}, index=index)


def _items_100k(files: _Files) -> pd.DataFrame | None:
    """u.item: id|title|release date|video release date|url|one 0/1 flag per genre of u.genre."""
    item_bytes, genre_bytes = files.read("u.item"), files.read("u.genre")
    if item_bytes is None or genre_bytes is None:
        return None
    pairs = [line.rsplit("|", 1) for line in genre_bytes.decode("latin-1").splitlines()]
    pairs = sorted((p for p in pairs if len(p) == 2), key=lambda pair: int(pair[1]))
    names = np.array([name for name, _ in pairs])  # in flag order
    table = pd.read_csv(
        io.BytesIO(item_bytes),
        sep="|",
        header=None,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
        keep_default_na=False,
    )
    flags = table.iloc[:, 5 : 5 + len(names)].to_numpy(dtype=np.int64) == 1  # [n_items, n_genres]
    genres = ["|".join(names[row]) for row in flags]
    return _item_frame(table[0].tolist(), table[1].tolist(), genres)


def _items_1m(files: _Files) -> pd.DataFrame | None:
    """movies.dat: MovieID::Title::Genres (Latin-1); titles may hold ':' so split at the ends."""
    raw = files.read("movies.dat")
    if raw is None:
        return None
    ids, titles, genres = [], [], []
    for line in filter(None, raw.decode("latin-1").splitlines()):
        head, _, genre_text = line.rpartition("::")
        ident, _, title = head.partition("::")
        ids.append(int(ident))
        titles.append(title)
        genres.append(genre_text)
    return _item_frame(ids, titles, genres)


def _items_csv(files: _Files) -> pd.DataFrame | None:
    """movies.csv: movieId,title,genres (quoted CSV)."""
    raw = files.read("movies.csv")
    if raw is None:
        return None
    table = pd.read_csv(io.BytesIO(raw), keep_default_na=False, dtype={"movieId": np.int64})
    return _item_frame(table["movieId"].tolist(), table["title"].tolist(), table["genres"].tolist())


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
# How each release lays out its ratings: separator, columns, item table.
_LAYOUTS = {
    "ml-100k": ("\t", "user,item,rating,timestamp", _items_100k),
    "ml-1m": ("::", "user,item,rating,timestamp", _items_1m),
    "csv": (",", "user=userId,item=movieId,rating=rating,timestamp=timestamp", _items_csv),
}


def _grouplens(name: str, ratings: str, rows: int, layout: str, **partial) -> MovieLens:
    size, sha256 = _CHECKSUMS[name]
    url = f"https://files.grouplens.org/datasets/movielens/{name}.zip"
    return MovieLens(name, url, size, sha256, name, ratings, rows, *_LAYOUTS[layout], **partial)


SETS: tuple[MovieLens, ...] = (
    _grouplens("ml-100k", "u.data", 100_000, "ml-100k"),
    _grouplens(
        "ml-1m", "ratings.dat", 1_000_209, "ml-1m",
        partial_file="ratings_partial_known_ts.dat", partial_rows=855_005,
    ),
    _grouplens("ml-20m", "ratings.csv", 20_000_263, "csv"),
    _grouplens("ml-25m", "ratings.csv", 25_000_095, "csv"),
    _grouplens("ml-latest-small", "ratings.csv", 100_836, "csv"),
)  # fmt: skip
