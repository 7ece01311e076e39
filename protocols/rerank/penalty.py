"""pop-penalty: every item's score lowered by its standardised log popularity (`--alpha`)."""

from __future__ import annotations

import numpy as np
import torch

from protocols.rerank import Reranker, Strength, register_reranker, standardise
from protocols.types import UserBatch


def standardised_log_popularity(pop: np.ndarray) -> np.ndarray:
    """z(i) = standardised log(1 + pop(i)) over the real items; float32 [n_items + 1]."""
    logs = np.log1p(pop[1:])
    spread = logs.std()
    z = np.zeros(len(pop), dtype=np.float32)
    z[1:] = (logs - logs.mean()) / (spread if spread > 0 else 1.0)
    return z


def penalise(
    scores: torch.Tensor, allowed: torch.Tensor, pop_z: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Per-user standardised scores minus α × z(i): one α is one strength for every model.

    `scores` [B, C], `allowed` [B, C] bool (each user's candidates: mean and deviation are
    taken over these), `pop_z` [C]. α = 0 returns `scores` itself.
    """
    if alpha == 0:
        return scores
    return standardise(scores, allowed) - alpha * pop_z[None, :]


@register_reranker("pop-penalty")
class PopularityPenalty(Reranker):
    """Rank by standardised score - α × standardised log(1 + training popularity): a per-user
    re-scoring, so it moves items within each list but cannot target the catalogue."""

    strength = Strength(
        "alpha",
        0.0,
        float("inf"),
        (0, 0.05, 0.1, 0.2, 0.5, 1),
        meaning="weight of the standardised log popularity against the standardised score",
    )

    def __init__(self, strength: float, popularity: np.ndarray, seed: int = 0) -> None:
        super().__init__(strength, popularity, seed)
        self.pop_z = standardised_log_popularity(self.popularity)

    def __call__(self, scores: torch.Tensor, allowed: torch.Tensor, batch: UserBatch):
        pop_z = torch.as_tensor(self.pop_z, device=scores.device)
        return penalise(scores, allowed, pop_z, self.value)
