"""Small frozen containers that carry data from one stage to the next.

Item indices run from 1 to n_items; index 0 is padding and never a real item.
Users are 0 .. n_users-1. Every score matrix therefore has n_items + 1 columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

PAD = 0


@dataclass(frozen=True)
class RawData:
    """A data set as read from disk, before implicit-feedback processing.

    `frame` has columns user, item, timestamp (int64) and optionally rating, one row per event,
    in file order. `items` (optional) is indexed by the original item id with columns
    `title` and `genres` (a tuple of strings per item). `min_user`/`min_item`: the k-core a
    preprocessing recipe promises, applied again after a run's rating filter and repeats policy.
    """

    name: str
    frame: pd.DataFrame
    items: pd.DataFrame | None = None
    source: str = ""
    min_user: int = 0
    min_item: int = 0


@dataclass(frozen=True)
class Histories:
    """Ragged per-row item sequences in time order (CSR layout): row r is items[indptr[r]:indptr[r+1]]."""

    indptr: np.ndarray  # int64 [R+1]
    items: np.ndarray  # int64 [nnz]
    timestamps: np.ndarray  # int64 [nnz]

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, r: int) -> np.ndarray:
        return self.items[self.indptr[r] : self.indptr[r + 1]]

    def take(self, rows: np.ndarray) -> Histories:
        """The histories of `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.prefixes(rows, self.lengths[rows])

    def prefixes(self, rows: np.ndarray, keep: np.ndarray) -> Histories:
        """The first keep[k] events of row rows[k], for each k."""
        keep = np.asarray(keep, dtype=np.int64)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(keep, out=indptr[1:])
        flat = np.repeat(self.indptr[rows] - indptr[:-1], keep) + np.arange(indptr[-1])
        return Histories(indptr, self.items[flat], self.timestamps[flat])

    def to_csr(self, n_columns: int) -> sp.csr_matrix:
        """Binary [R, n_columns] matrix: 1 where the row's history holds the item (repeats count once)."""
        row_ids = np.repeat(np.arange(self.n_rows), self.lengths)
        ones = np.ones(len(self.items), dtype=np.float32)
        matrix = sp.csr_matrix((ones, (row_ids, self.items)), shape=(self.n_rows, n_columns))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix


@dataclass(frozen=True)
class Interactions:
    """Implicit feedback in canonical form: one time-ordered history per user."""

    name: str
    histories: Histories  # one row per user, sorted by time (stable: ties keep file order)
    n_users: int
    n_items: int
    user_ids: np.ndarray  # original user id of each user index, [n_users]
    item_ids: np.ndarray  # original item id of each item index, [n_items + 1]; slot 0 is padding
    item_titles: np.ndarray | None = None  # [n_items + 1] str, or None
    item_genres: sp.csr_matrix | None = None  # [n_items + 1, n_genres] binary, or None
    genre_names: tuple[str, ...] = ()
    stats: dict = field(default_factory=dict)  # what filtering removed, for the run record

    @property
    def n_interactions(self) -> int:
        return len(self.histories.items)


@dataclass(frozen=True)
class EvalSet:
    """Held-out targets of one split part (valid or test) with the history each user brings to it."""

    users: np.ndarray  # int64 [U]
    inputs: Histories  # [U] ragged input histories, time-ordered, ending just before the targets
    targets: np.ndarray  # int64 [U, T] items to find, T targets per user

    @property
    def n_users(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Split:
    """Training data and held-out evaluation sets, produced by a split function."""

    name: str
    train: Histories  # one row per user (all n_users rows; a row may be empty)
    valid: EvalSet
    test: EvalSet
    n_users: int
    n_items: int
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FitData:
    """Everything a model may learn from. Test targets are never here."""

    train: Histories  # [n_users] training histories
    n_users: int
    n_items: int
    valid: EvalSet  # for early stopping only
    seq_len: int
    item_genres: sp.csr_matrix | None = None
    device: str = "cpu"
    seed: int = 0
    exclude_history: bool = True  # full ranking excludes the input history (--repeats first)

    def train_matrix(self) -> sp.csr_matrix:
        """Binary user-item matrix of the training data, [n_users, n_items + 1]."""
        return self.train.to_csr(self.n_items + 1)


@dataclass(frozen=True)
class UserBatch:
    """What a model sees of a batch of users at scoring time."""

    users: np.ndarray  # int64 [B] user indices
    sequences: torch.Tensor  # int64 [B, L]: the last L input items, left-padded with 0
    history: sp.csr_matrix  # [B, n_items + 1] binary: every item of the input history

    def __len__(self) -> int:
        return len(self.users)
