"""One registry of data sets: every name `--dataset` accepts besides own files and synthetic.

An entry says where its data comes from and how it is checked, and loads itself:
`kind` ("download": a MovieLens zip fetched and verified by SHA-256; "pinned": a processed file
papers trained on, fetched from a fixed commit and verified by SHA-256; "recipe": a raw dump the
user puts in the data folder, preprocessed by a named recipe and checked by its statistics),
`source`,
`recipe`, `needs` (the file to have in the data folder), `expected` (its checksum or
statistics), `present(root)` and `load(root, min_rating_hint) -> RawData`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from benchmark.datasets import movielens, pinned, recipes
from protocols.registry import Registry
from protocols.types import RawData


class RegisteredSet(Protocol):
    name: str
    kind: str
    source: str

    @property
    def recipe(self) -> str: ...

    @property
    def needs(self) -> str: ...

    @property
    def expected(self) -> str: ...

    def present(self, root: Path) -> bool: ...

    def load(self, root: Path, min_rating_hint: float | None = None) -> RawData: ...


DATASETS: Registry[RegisteredSet] = Registry(
    "dataset", "or csv:PATH, seq:PATH, pairs:PATH, atomic:PATH, synthetic"
)
for _entry in (*movielens.SETS, *pinned.SETS, *recipes.SETS):
    DATASETS.add(_entry.name, _entry)
