"""DuoRec (Qiu et al., WSDM 2022): SASRec with contrastive regularisation of its sequence
representations, against the collapse of item embeddings into a narrow cone.

Follows the paper (its `us_x` setting, the one reported on Amazon Beauty): the first view of a
training sequence is its representation under one dropout mask, the second the representation
of another training sequence with the same next item (drawn uniformly among them; the sequence
itself, under another dropout mask, when it is the only one), with in-batch negatives, dot
products and temperature tau = 1, weight lambda = 0.1, trained beside the next-item loss.
Changes: the next-item loss covers every position of a window (as for `sasrec`), the
contrastive term the windows' last positions; rows of a batch with the same next item are not
counted as each other's negatives (they are the positives the method is built on); the SASRec
encoder is this project's (`seqmodels.sasrec`), with its dropout for both views.
"""

from __future__ import annotations

import numpy as np
import torch

from protocols.registry import register_model
from protocols.sequences import training_windows
from protocols.types import PAD, FitData
from seqmodels.contrastive import ContrastiveSASRec


class SameTarget:
    """Every training window's input, grouped by the window's last target, to draw from."""

    def __init__(self, data: FitData, all_windows: bool) -> None:
        inputs, targets = training_windows(data.train, data.seq_len, all_windows)
        last = targets[:, -1]  # windows are right-aligned: the last target is always real
        order = np.argsort(last, kind="stable")
        counts = np.bincount(last, minlength=data.n_items + 1)
        device = torch.device(data.device)
        self.inputs = torch.from_numpy(inputs[order]).to(device)  # [S, L]
        self.counts = torch.from_numpy(counts).to(device)  # [n_items + 1]
        self.starts = torch.from_numpy(np.cumsum(counts) - counts).to(device)

    def draw(self, items: torch.Tensor) -> torch.Tensor:
        """[B] next items -> [B, L] inputs of random training windows with those next items."""
        offset = (torch.rand(len(items), device=items.device) * self.counts[items]).long()
        return self.inputs[self.starts[items] + offset]


@register_model("duorec")
class DuoRec(ContrastiveSASRec):
    """SASRec regularised by contrasting sequences that share their next item."""

    display_order = 46

    def fit(self, data: FitData) -> DuoRec:
        self.same_target_ = SameTarget(data, self.params.all_windows)
        try:
            return super().fit(data)
        finally:
            del self.same_target_  # training data only: never saved with the model

    def views(self, inputs, targets, states):
        nexts = targets[:, -1]  # [B]
        others = self.same_target_.draw(nexts)  # [B, L]
        width = max(int((others != PAD).sum(dim=1).max()), 1)
        return states[:, -1], self.net_(others[:, -width:])[:, -1], nexts
