"""Training losses as a registry, like models: `@register_loss("name")` on a class.

A loss is built once per fit, `LossClass(params, n_items, popularity)`, and called per batch
as `loss(net, states, positives) -> scalar`, where `states` [M, d] are the user states of the
M positions that have a target and `positives` [M] their next items. `net.item_scores` and
`net.items` give every item's score and embedding. A plugin registers its own class the same
way and selects it with `--loss NAME`. The settings a loss reads (`neg_ratio`, `negatives`,
`sampler`, `gbce_t`) are fields of `TrainParams`, checked when the parameters are built.

- ce: softmax cross-entropy over every item.
- bce: per position, the positive's logistic loss plus the mean of its `neg_ratio` uniform
  negatives' (so more negatives lower the noise of the negative term, not its weight).
- sampled-ce: softmax over the positive and `negatives` items shared by the whole batch,
  drawn with replacement from q (uniform or popularity); each negative's logit is corrected
  by - log(K q(j)), so that sum_j exp(s_j) / (K q(j)) over the sample estimates, without
  bias, the partition function over every other item (the logQ correction).
- gbce: gSASRec's generalised BCE (Petrov and Macdonald, RecSys 2023) with `neg_ratio`
  negatives per positive: -(beta log sigma(s+) + sum log(1 - sigma(s-))) / (k + 1),
  beta = alpha (t (1 - 1/alpha) + 1/alpha), alpha = k / (n_items - 1), calibration t; every
  score enters shifted by log(beta / k) (below).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from protocols.registry import Registry

LOSSES: Registry[type] = Registry("loss", "a plugin registers one with @register_loss(NAME)")
SAMPLERS = ("uniform", "popularity")
register_loss = LOSSES.register  # class decorator: `--loss name` selects the class
list_losses = LOSSES.names
loss_class = LOSSES.get  # an unknown name lists the known ones


def create_loss(name: str, params, n_items: int, popularity: np.ndarray):
    return loss_class(name)(params, n_items, popularity)


def _uniform_negatives(positives: torch.Tensor, k: int, n_items: int) -> torch.Tensor:
    """[M, k] uniform draws from the real items other than each row's positive."""
    negatives = torch.randint(1, n_items, (len(positives), k), device=positives.device)
    return negatives + (negatives >= positives[:, None]).long()  # skip the positive


@register_loss("ce")
class FullSoftmax:
    """Softmax cross-entropy over every real item."""

    def __init__(self, params, n_items: int, popularity: np.ndarray) -> None:
        self.n_items = n_items

    def __call__(self, net, states: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        # the real items' columns only: no padding column to mask in place (which would
        # make autograd copy the whole [M, n_items] gradient back through the slice)
        logits = (states @ net.items.weight[1:].T).float()  # [M, n_items]
        return F.cross_entropy(logits, positives - 1)


@register_loss("bce")
class SampledBCE:
    """Logistic loss on the positive and on `neg_ratio` uniform negatives per positive."""

    def __init__(self, params, n_items: int, popularity: np.ndarray) -> None:
        self.k, self.n_items = params.neg_ratio, n_items

    def logits(self, net, states, positives):
        """Positive [M] and negative [M, k] logits."""
        negatives = _uniform_negatives(positives, self.k, self.n_items)
        pos = (states * net.items(positives)).sum(-1).float()  # [M]
        neg = (states[:, None, :] * net.items(negatives)).sum(-1).float()  # [M, k]
        return pos, neg

    def __call__(self, net, states: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        pos, neg = self.logits(net, states, positives)
        return F.softplus(-pos).mean() + F.softplus(neg).mean()


@register_loss("gbce")
class GeneralisedBCE(SampledBCE):
    """gSASRec's gBCE: the positive's log-probability weighted by beta; the negatives' losses
    are summed, so at t = 0 (beta = 1) it is `bce` only for neg_ratio = 1 (up to the 1/2).

    The scores enter shifted by log(beta / k), where the loss of a score shared by every item
    is lowest. Unshifted, that optimum (about -6.6 at k = 256) has to be reached by weights that
    Adam moves by about the learning rate a step: about 3,300 steps at 2e-3, which is the
    plateau gSASRec sat on, every item scoring alike (Beauty, ML-1M), before it learnt anything
    else. The shift is the same for every item, so it changes no ranking."""

    def __init__(self, params, n_items: int, popularity: np.ndarray) -> None:
        super().__init__(params, n_items, popularity)
        alpha = self.k / (n_items - 1)
        self.beta = alpha * (params.gbce_t * (1 - 1 / alpha) + 1 / alpha)
        self.shift = math.log(self.beta / self.k)

    def __call__(self, net, states: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        pos, neg = self.logits(net, states, positives)
        pos, neg = pos + self.shift, neg + self.shift
        per_position = self.beta * F.softplus(-pos) + F.softplus(neg).sum(-1)  # [M]
        return per_position.mean() / (self.k + 1)


@register_loss("sampled-ce")
class SampledSoftmax:
    """Softmax over the positive and K shared negatives from q, with the logQ correction."""

    def __init__(self, params, n_items: int, popularity: np.ndarray) -> None:
        self.k, self.n_items = params.negatives, n_items
        weights = np.ones(n_items) if params.sampler == "uniform" else popularity[1:] + 1.0
        q = np.concatenate([[0.0], weights / weights.sum()])  # [n_items + 1], q(PAD) = 0
        self.q = torch.as_tensor(q, dtype=torch.float32)
        self.uniform = params.sampler == "uniform"

    def draw(self, device: torch.device) -> torch.Tensor:
        """[K] items drawn with replacement from q."""
        if self.uniform:
            return torch.randint(1, self.n_items + 1, (self.k,), device=device)
        return torch.multinomial(self.q.to(device), self.k, replacement=True)

    def logits(self, scores_pos, scores_neg, positives, negatives) -> torch.Tensor:
        """[M, 1 + K] corrected logits: column 0 the positive, then the shared negatives;
        a negative that is the row's own positive is removed (-inf)."""
        q = self.q.to(scores_neg.device)[negatives]  # [K]
        neg = scores_neg - torch.log(self.k * q)[None, :]  # [M, K]
        neg = neg.masked_fill(negatives[None, :] == positives[:, None], -math.inf)
        return torch.cat([scores_pos[:, None], neg], dim=1)

    def __call__(self, net, states: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        negatives = self.draw(states.device)  # [K], shared by every row
        pos = (states * net.items(positives)).sum(-1).float()  # [M]
        neg = (states @ net.items(negatives).T).float()  # [M, K]
        logits = self.logits(pos, neg, positives, negatives)
        return F.cross_entropy(logits, torch.zeros_like(positives))
