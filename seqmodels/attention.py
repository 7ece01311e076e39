"""The attention mask of every self-attention model: which keys each query of a left-padded
[B, L] batch may read."""

from __future__ import annotations

import torch


def readable_keys(present: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """[B, L] real-item mask -> [B, L, L] bool: query t reads key s when s is a real item
    (and s <= t when causal) or s = t, so a padding query reads only itself and no row of a
    softmax is empty."""
    length = present.shape[1]
    own = torch.eye(length, dtype=torch.bool, device=present.device)
    readable = present[:, None, :] | own
    if causal:
        readable = readable & torch.ones_like(own).tril()
    return readable
