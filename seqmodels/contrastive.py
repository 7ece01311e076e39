"""What the contrastive SASRec variants (`duorec`, `cl4srec`) share: the InfoNCE loss over two
views of a batch, their two parameters, and the objective next-item loss + weight * InfoNCE.

A subclass of `ContrastiveSASRec` only says how it makes its two views of a batch's sequences
(`views`): the encoder, the next-item loss and scoring are SASRec's.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from protocols.errors import require
from protocols.search_space import Float
from protocols.types import PAD
from seqmodels.sasrec import SASRec, SASRecParams


@dataclasses.dataclass(frozen=True)
class ContrastiveParams(SASRecParams):
    cl_weight: float = 0.1  # lambda: weight of the contrastive term
    temperature: float = 1.0  # tau: similarities are dot products / tau

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.cl_weight < math.inf, f"cl_weight must be >= 0, got {self.cl_weight}")
        require(
            0 < self.temperature < math.inf,
            f"temperature must be positive, got {self.temperature}",
        )


CONTRASTIVE_SPACE = {"cl_weight": Float(0.01, 1.0, log=True), "temperature": Float(0.1, 2.0)}


def info_nce(
    first: torch.Tensor,
    second: torch.Tensor,
    temperature: float,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE over 2B views: row i of `first` and row i of `second` are each other's positive,
    the other 2B - 2 views are negatives (SimCLR's NT-Xent with dot products). With `labels`
    [B], views of rows that share a label are left out of each other's negatives."""
    n = len(first)
    views = torch.cat([first, second]).float()  # [2B, d]
    similarity = views @ views.T / temperature  # [2B, 2B]
    rows = torch.arange(2 * n, device=views.device)
    partner = (rows + n) % (2 * n)
    excluded = rows[:, None] == rows[None, :]  # a view is not its own negative
    if labels is not None:
        both = torch.cat([labels, labels])
        excluded = excluded | ((both[:, None] == both[None, :]) & (partner[:, None] != rows))
    similarity = similarity.masked_fill(excluded, -math.inf)
    return F.cross_entropy(similarity, partner)


class ContrastiveSASRec(SASRec):
    """SASRec trained on next-item loss + cl_weight * InfoNCE(views). Not registered itself."""

    Params = ContrastiveParams
    search_space = {**SASRec.search_space, **CONTRASTIVE_SPACE}

    def views(
        self, inputs: torch.Tensor, targets: torch.Tensor, states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Two [B, d] views of the batch's sequences and optional [B] labels whose equal
        rows are not each other's negatives; `states` [B, W, d] is the plain forward pass."""
        raise NotImplementedError

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor, loss) -> torch.Tensor:
        states = self.net_(inputs)  # [B, W, d]
        present = targets != PAD
        main = loss(self.net_, states[present], targets[present])
        if self.params.cl_weight == 0:
            return main
        first, second, labels = self.views(inputs, targets, states)
        return main + self.params.cl_weight * info_nce(
            first, second, self.params.temperature, labels
        )
