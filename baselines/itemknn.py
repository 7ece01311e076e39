"""Item-based k-nearest-neighbours: shrunk cosine similarity between items' training-user sets.

score(u, j) = sum over items i in u's input history of sim(i, j), where row i of the similarity
matrix keeps only i's K most similar items (its neighbours).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp
import torch

from protocols.errors import require
from protocols.interface import Recommender
from protocols.registry import register_model
from protocols.search_space import Choice, Int
from protocols.types import FitData, UserBatch

_BLOCK = 1024  # items per block: bounds the dense work array at _BLOCK x (n_items + 1)


@register_model("itemknn")
class ItemKNN(Recommender):
    """Item-item cosine kNN on the binary user-item training matrix.

    sim(i, j) = |U_i & U_j| / (sqrt(|U_i| * |U_j|) + shrinkage), with U_i the set of training
    users of item i: the shrinkage term lowers similarities resting on few shared users.
    An item is never its own neighbour (it would only take a slot: history items are not ranked),
    and ties at the K-th neighbour keep the lower item index, so the matrix is deterministic.
    """

    display_order = 30

    is_baseline = True

    @dataclasses.dataclass(frozen=True)
    class Params:
        neighbours: int = 100
        """K: similar items kept per item (20 to 2000 all scored within noise on MovieLens)."""
        shrinkage: float = 0.0
        """Added to the cosine's denominator; 0 is the plain cosine."""

        def __post_init__(self) -> None:
            require(self.neighbours >= 1, f"neighbours must be >= 1, got {self.neighbours}")
            require(
                0 <= self.shrinkage < math.inf,
                f"shrinkage must be finite and >= 0, got {self.shrinkage}",
            )

    search_space = {
        "neighbours": Int(2, 2000, log=True),
        "shrinkage": Choice((0.0, 1.0, 10.0, 100.0, 1000.0)),
    }

    def fit(self, data: FitData) -> ItemKNN:
        item_users = data.train_matrix().T.tocsr().astype(np.float64)  # [n+1, U] binary
        self.similarity_ = cosine_neighbours(
            item_users, self.params.neighbours, self.params.shrinkage
        )
        return self

    def score(self, batch: UserBatch) -> torch.Tensor:
        history = sp.csr_matrix(batch.history, dtype=np.float64)  # [B, n+1]
        history.data[:] = 1.0
        scores = (history @ self.similarity_).toarray()  # [B, n+1]
        return torch.from_numpy(scores.astype(np.float32))


def cosine_neighbours(item_users: sp.csr_matrix, k: int, shrinkage: float = 0.0) -> sp.csr_matrix:
    """Shrunk cosine similarity [n, n] (CSR) keeping each row's k largest positive off-diagonal
    entries."""
    n = item_users.shape[0]
    norms = np.sqrt(np.asarray(item_users.sum(axis=1)).ravel())  # [n]
    user_items = item_users.T.tocsr()  # [U, n]
    blocks = []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        overlap = (item_users[start:stop] @ user_items).toarray()  # [b, n] co-occurrence counts
        denom = norms[start:stop, None] * norms[None, :] + shrinkage  # 0: items without users
        sims = np.divide(overlap, denom, out=np.zeros_like(overlap), where=denom > 0)
        sims[np.arange(stop - start), np.arange(start, stop)] = 0.0  # not its own neighbour
        blocks.append(sp.csr_matrix(_keep_top_k(sims, k)))
    return sp.vstack(blocks, format="csr")


def _keep_top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Zero all but each row's k largest positive entries; ties at the k-th keep lower columns."""
    if k >= sims.shape[1]:
        return sims
    kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]  # [b, 1] k-th largest value per row
    above = sims > kth
    tied = sims == kth
    room = k - above.sum(axis=1, keepdims=True)  # how many tied entries still fit
    keep = (above | (tied & (np.cumsum(tied, axis=1) <= room))) & (sims > 0)
    return np.where(keep, sims, 0.0)
