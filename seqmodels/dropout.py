"""Dropout whose CPU masks cost one random draw per four elements.

torch's CPU dropout draws one Bernoulli variable per element, which made its masks a fifth of
a SASRec epoch on ML-1M >= 4. Here one 64-bit random word gives four 16-bit lanes, and an
element is kept when its lane is at or above p's share of the 16-bit range, so p is rounded
to a multiple of 1/65536 (0.2 -> 0.199997) and kept elements are scaled by the inverse of the
rounded keep share. On other devices torch's own (fused) dropout runs.
"""

from __future__ import annotations

import torch
from torch import nn

LANES = 1 << 16  # values of one 16-bit lane


class Dropout(nn.Dropout):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        n = x.numel()
        words = torch.empty(-(-n // 4), dtype=torch.int64, device=x.device)
        words.random_(-(2**63), None)  # the full int64 range: every lane uniform
        lanes = words.view(torch.int16)[:n].view(x.shape)
        dropped = dropped_lanes(self.p)
        keep = lanes >= dropped - LANES // 2  # int16 runs from -32768
        return x * keep.to(x.dtype).mul_(LANES / (LANES - dropped))


def dropped_lanes(p: float) -> int:
    """How many of the 65536 lane values drop an element: p rounded to that grid."""
    return min(round(p * LANES), LANES - 1)


def use_fast_dropout(module: nn.Module) -> nn.Module:
    """Replace every plain nn.Dropout inside `module` (a transformer layer's too) by Dropout."""
    for name, child in module.named_children():
        if type(child) is nn.Dropout:
            setattr(module, name, Dropout(child.p, child.inplace))
        else:
            use_fast_dropout(child)
    return module
