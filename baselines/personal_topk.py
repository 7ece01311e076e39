"""Personalised popularity over item categories (genres): popularity weighted by the user's taste.

P(i | u) = (1 - beta) * P(i) + beta * sum_{g in top-m genres of u} P(g | u) * P(i | g)

P(i)     = pop(i) / sum_j pop(j)                    (global training popularity)
P(i | g) = pop(i) / sum_{j in g} pop(j)             for items of genre g, else 0
P(g | u) = share of the user's input-history items carrying genre g, renormalised over the
           user's m most frequent genres (ties broken by the lower genre index)
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import scipy.sparse as sp
import torch

from protocols.errors import InputError, require
from protocols.interface import Recommender
from protocols.popularity import item_popularity
from protocols.registry import register_model
from protocols.search_space import Float, Int
from protocols.types import FitData, UserBatch

log = logging.getLogger(__name__)


@register_model("personal-topk")
class PersonalTopK(Recommender):
    """Popularity mixed with popularity inside the user's favourite genres (module docstring).

    Fallbacks: without item categories (`data.item_genres is None`) the model logs a warning at
    `fit` and scores every user by global popularity P(i). A user whose input history has no item
    with a genre (an empty history included) also gets plain P(i).
    """

    display_order = 20

    is_baseline = True

    @dataclasses.dataclass(frozen=True)
    class Params:
        blend: float = 0.3
        """beta: weight of the genre part; 0 = plain popularity, 1 = only the user's genres."""
        top_genres: int = 3
        """m: how many of the user's most frequent genres take part."""

        def __post_init__(self) -> None:
            require(0 <= self.blend <= 1, f"blend must be in [0, 1], got {self.blend}")
            require(self.top_genres >= 1, f"top_genres must be >= 1, got {self.top_genres}")

    search_space = {"blend": Float(0.0, 1.0), "top_genres": Int(1, 6)}

    def fit(self, data: FitData) -> PersonalTopK:
        counts = item_popularity(data.train, data.n_items)  # [n+1]
        self.p_item_ = counts / max(counts.sum(), 1.0)  # [n+1]
        self.item_genres_ = None
        self.p_item_given_genre_ = None
        if data.item_genres is None:
            log.warning("personal-topk: the data set has no item genres; scoring by popularity")
            return self
        genres = sp.csr_matrix(data.item_genres, dtype=np.float64)  # [n+1, G]
        if genres.shape[0] != data.n_items + 1:
            raise InputError(
                f"item_genres has {genres.shape[0]} rows, expected n_items + 1 = {data.n_items + 1}"
            )
        genres.data[:] = 1.0  # binary membership, whatever the stored values
        genre_pop = genres.T @ counts  # [G]: training interactions with items of each genre
        # P(i|g) as a dense [G, n+1] matrix; genres without training interactions stay all-zero.
        cond = (genres.multiply(counts[:, None])).T.toarray()  # [G, n+1]
        cond /= np.maximum(genre_pop, 1e-12)[:, None]
        self.item_genres_ = genres
        self.p_item_given_genre_ = cond
        return self

    def score(self, batch: UserBatch) -> torch.Tensor:
        p_item = np.broadcast_to(self.p_item_, (len(batch), len(self.p_item_)))  # [B, n+1]
        if self.item_genres_ is None:
            return torch.from_numpy(np.ascontiguousarray(p_item, dtype=np.float32))
        p_genre = self._user_genre_shares(batch.history)  # [B, G]
        mix = p_genre @ self.p_item_given_genre_  # [B, n+1]
        scores = (1.0 - self.params.blend) * p_item + self.params.blend * mix
        no_genre = p_genre.sum(axis=1) == 0  # users without genre information: plain P(i)
        scores[no_genre] = self.p_item_
        return torch.from_numpy(scores.astype(np.float32))

    def _user_genre_shares(self, history: sp.csr_matrix) -> np.ndarray:
        """P(g|u) over each user's top-m genres, [B, G]; all-zero rows for users without genres."""
        binary = sp.csr_matrix(history, dtype=np.float64)
        binary.data[:] = 1.0
        counts = np.asarray((binary @ self.item_genres_).todense())  # [B, G]
        m = min(self.params.top_genres, counts.shape[1])
        # A stable sort on -counts keeps the lower genre index first among ties: deterministic.
        order = np.argsort(-counts, axis=1, kind="stable")[:, :m]  # [B, m]
        kept = np.zeros_like(counts)
        rows = np.arange(len(counts))[:, None]
        kept[rows, order] = counts[rows, order]
        total = kept.sum(axis=1, keepdims=True)
        return np.divide(kept, total, out=np.zeros_like(kept), where=total > 0)
