"""Most-popular baseline: every user gets items ranked by their number of training interactions."""

from __future__ import annotations

import numpy as np
import torch

from protocols.interface import NoParams, Recommender
from protocols.popularity import item_popularity
from protocols.registry import register_model
from protocols.search_space import Domain
from protocols.types import FitData, UserBatch


@register_model("pop")
class Popularity(Recommender):
    """Scores item i by pop(i), the same for every user (the history only filters candidates)."""

    display_order = 10  # simplest first

    is_baseline = True

    Params = NoParams
    search_space: dict[str, Domain] = {}  # nothing to tune: a search runs the default once

    def fit(self, data: FitData) -> Popularity:
        self.counts_ = item_popularity(data.train, data.n_items)  # [n_items + 1]
        return self

    def score(self, batch: UserBatch) -> torch.Tensor:
        row = torch.from_numpy(self.counts_.astype(np.float32))  # [n_items + 1]
        return row.expand(len(batch), -1)  # [B, n_items + 1], a view: scores are read only
