"""gSASRec (Petrov and Macdonald, RecSys 2023): SASRec trained with generalised BCE over many
sampled negatives, which keeps the overconfidence of negative sampling in check.

Follows the paper: the SASRec encoder (`seqmodels.sasrec`) and the gBCE loss (`seqmodels.losses`,
`gbce`) with its defaults, k = 256 negatives per positive and calibration t = 0.75 (the official
port's configurations use the same pair). Changes: input and output item embeddings are shared,
as in every model here (the official port keeps a separate output table); negatives are drawn
uniformly per position, with replacement; the input length is the run's `--seq-len`; the
trainer's patience (theirs 200 epochs of 100 batches) and learning rate, 2e-3 (theirs 1e-3); and
the scores enter gBCE shifted by log(beta / k), where one score shared by every item is best
(`seqmodels.losses`). Without the shift it first sat on a plateau, every item scoring alike,
for about 3,300 steps (Beauty 15 to 19 epochs, ML-1M 31; ML-100K never left it before its
patience ended), the steps Adam takes to move the weights the 6.6 to that optimum.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from protocols.registry import register_model
from protocols.search_space import Choice, Float
from seqmodels.sasrec import SASRec, SASRecParams


@dataclasses.dataclass(frozen=True)
class GSASRecParams(SASRecParams):
    loss: str = "gbce"
    neg_ratio: int = 256  # k: negatives per positive
    gbce_t: float = 0.75  # calibration: 0 is plain BCE, 1 fully calibrated

    losses: ClassVar[tuple[str, ...] | None] = ("gbce",)  # with another loss it is SASRec


@register_model("gsasrec")
class GSASRec(SASRec):
    """SASRec with gBCE over k sampled negatives."""

    display_order = 45
    Params = GSASRecParams
    search_space = {
        **SASRec.search_space,
        "neg_ratio": Choice((64, 128, 256)),
        "gbce_t": Float(0.0, 1.0),
    }
