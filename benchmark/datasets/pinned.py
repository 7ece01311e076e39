"""Pinned data sets: the processed files papers trained on, fixed to the byte.

Each file is fetched from a URL that names a fixed commit, so its bytes cannot change under the
name, and is verified by SHA-256 before it is parsed. It keeps the source's own file name under
the set's folder (`$SEQREC_DATA/s3rec-beauty/Beauty.txt`), so a file one already has can be
dropped there. These files are already processed (k-cores, id maps, time order): no rating
filter, k-core or recipe is applied; `--repeats` applies as everywhere (Yelp repeats items).
The statistics after parsing are checked against the paper's table as well.

A set may come with published candidates: S3-Rec ranks each target against 99 fixed negatives
per user (`<Name>_sample.txt`: `uid neg1 ... neg99`, the same for validation and test), read by
`benchmark.datasets.negatives` when a run asks for `--negatives-file published`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from benchmark.datasets.download import download, verify
from benchmark.datasets.files import read_bytes
from benchmark.datasets.formats import FILE_FORMATS
from protocols.errors import InputError
from protocols.types import RawData

log = logging.getLogger(__name__)
GITHUB = "https://raw.githubusercontent.com/"


@dataclass(frozen=True)
class PinnedFile:
    """One published file: where it is fetched from, its name in the set's folder, its SHA-256."""

    url: str
    file: str
    sha256: str

    def path(self, root: Path, name: str) -> Path:
        return root / name / self.file

    def fetch(self, root: Path, name: str) -> Path:
        """The verified local copy: found in the data folder, else downloaded there."""
        path = self.path(root, name)
        what = f"{name}'s {self.file} (from {self.url})"
        if not path.is_file():
            try:
                download(self.url, path, self.sha256, None, what)
            except OSError as error:  # also URLError, timeouts, a read-only data folder
                reason = " ".join(str(error).split())
                raise InputError(
                    f"{name}: {path} is missing and could not be downloaded ({reason}): fetch "
                    f"{self.url} and put it in {path.parent}"
                ) from None
        verify(path, self.sha256, None, what)
        return path


@dataclass(frozen=True)
class Pinned:
    """A registered processed file, its format and the statistics its paper reports."""

    name: str
    source: str  # the papers that train on this file, with their statistics table
    data: PinnedFile
    format: str  # a key of formats.FILE_FORMATS: seq or pairs
    users: int
    items: int
    interactions: int
    negatives: PinnedFile | None = None  # published sampled candidates, if any

    kind = "pinned"

    @property
    def recipe(self) -> str:
        return f"none: the processed file as published ({self.format} format)"

    @property
    def needs(self) -> str:
        return f"{self.name}/{self.data.file}"

    @property
    def expected(self) -> str:
        return (
            f"sha256 {self.data.sha256[:12]}..., {self.users:,}/{self.items:,}/"
            f"{self.interactions:,} users/items/interactions"
        )

    def present(self, root: Path) -> bool:
        return self.data.path(root, self.name).is_file()

    def load(self, root: Path, min_rating_hint: float | None = None) -> RawData:
        path = self.data.fetch(root, self.name)
        frame = FILE_FORMATS[self.format](read_bytes(path), str(path))
        found = (frame["user"].nunique(), frame["item"].nunique(), len(frame))
        if found != (self.users, self.items, self.interactions):
            raise InputError(
                f"{path}: {found[0]:,} users/{found[1]:,} items/{found[2]:,} interactions, "
                f"expected {self.users:,}/{self.items:,}/{self.interactions:,} ({self.source})"
            )
        return RawData(self.name, frame, None, str(path))


_ICLREC = GITHUB + "salesforce/ICLRec/2890e6c3ff6a22c6699fc19cb863b66786c1cde4/data/"
_S3REC = GITHUB + "aHuiWang/CIKM2020-S3Rec/49a890dcb516c9ed3126564495234ea74d5cd566/data/"
_SASREC = GITHUB + "kang205/SASRec/e3738967fddab206d6eeb4fda433e7a7034dd8b1/data/"
_S3REC_TABLE = "S3-Rec (Zhou et al., CIKM 2020), Table 1; the same file in ICLRec, DuoRec, eSASRec"


def _s3rec(name: str, base: str, file: str, sha256: str, stats: tuple[int, int, int]) -> Pinned:
    return Pinned(name, _S3REC_TABLE, PinnedFile(base + file, file, sha256), "seq", *stats)


SETS: tuple[Pinned, ...] = (
    _s3rec("s3rec-beauty", _ICLREC, "Beauty.txt",
           "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8",
           (22_363, 12_101, 198_502)),
    _s3rec("s3rec-sports", _ICLREC, "Sports_and_Outdoors.txt",
           "2a095e0648872beb9982408958290f5d655db5be2911c3756b5446de9f0b8de2",
           (35_598, 18_357, 296_337)),
    _s3rec("s3rec-toys", _ICLREC, "Toys_and_Games.txt",
           "176c680c688d497598c4a89a03b402c0fe78d795e5db335c2e78dd5f2d778a3f",
           (19_412, 11_924, 167_597)),
    _s3rec("s3rec-yelp", _ICLREC, "Yelp.txt",
           "724b219106b81dd2349027da997334ddb6da9fe2f152ad6e0d97a93170f7caed",
           (30_431, 20_033, 316_354)),
    Pinned(
        "s3rec-lastfm", "S3-Rec (Zhou et al., CIKM 2020), Table 1",
        PinnedFile(_S3REC + "LastFM.txt", "LastFM.txt",
                   "9ded486adb5b0fe9dc761950afa0a9a05e93ff018992e0c52bf11afec529f802"),
        "seq", 1_090, 3_646, 52_551,
        negatives=PinnedFile(_S3REC + "LastFM_sample.txt", "LastFM_sample.txt",
                             "60194cc2e4fd1aa8b5dc8872e1f3af9c6abd09c39d478d3df9337cb97e6e2f0d"),
    ),
    Pinned(
        "sasrec-games", "SASRec (Kang and McAuley, ICDM 2018), Table 1 (Video Games)",
        PinnedFile(_SASREC + "Video.txt", "Video.txt",
                   "b7376fe24430743f411dc7f567285657b2adb3f74361cc7ba0aee94f3024b651"),
        "pairs", 31_013, 23_715, 287_107,
    ),
)  # fmt: skip
