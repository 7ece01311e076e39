"""Published sampled candidates: a file of fixed negatives per user, `uid neg1 ... negN` per line
(S3-Rec's `<Name>_sample.txt`; the same negatives rank the validation and the test target).

`--negatives-file PATH` names one; `--negatives-file published` the pinned file of the data
set (`pinned.Pinned.negatives`, verified by SHA-256). Ids are the data file's own ids, so the
check that they fit the data (every evaluated user present, no negative in the user's history
or among its targets) happens once the data is loaded (`protocols.negatives.fixed_candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.datasets.download import sha256_of
from benchmark.datasets.files import read_bytes
from benchmark.datasets.registry import DATASETS
from protocols.errors import InputError

PUBLISHED = "published"


@dataclass(frozen=True)
class NegativesFile:
    path: Path
    sha256: str
    count: int  # negatives per user


def locate(spec: str, dataset: str, data_root: Path) -> NegativesFile:
    """The negatives file of `--negatives-file spec` for `dataset`, its hash and its width."""
    if spec == PUBLISHED:
        entry = DATASETS.get(dataset.lower()) if dataset.lower() in DATASETS else None
        pinned = getattr(entry, "negatives", None)
        if pinned is None:
            raise InputError(
                f"--negatives-file published: {dataset} has no published negatives (only "
                f"{', '.join(n for n in DATASETS if getattr(DATASETS[n], 'negatives', None))})"
            )
        path = pinned.fetch(data_root, entry.name)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise InputError(f"--negatives-file: no such file: {path}")
    table = read_negatives(path)
    return NegativesFile(path, sha256_of(path), len(next(iter(table.values()))))


def read_negatives(path: Path) -> dict[str, list[str]]:
    """{user id: its negatives' ids}, as text; a malformed line is one error naming it."""
    try:
        text = read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None
    table: dict[str, list[str]] = {}
    width = None
    for number, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        user, negatives = fields[0], fields[1:]
        if not negatives:
            raise InputError(f"{path}: line {number}: expected 'user neg1 neg2 ...'")
        if user in table:
            raise InputError(f"{path}: line {number}: user {user} again (one line per user)")
        if len(set(negatives)) != len(negatives):
            raise InputError(f"{path}: line {number}: a negative is repeated")
        width = width or len(negatives)
        if len(negatives) != width:
            raise InputError(
                f"{path}: line {number}: {len(negatives)} negatives, the lines before have {width}"
            )
        table[user] = negatives
    if not table:
        raise InputError(f"{path} has no data rows")
    return table
