"""What every deep sequence model shares: one item-embedding table for input and output, the
training parameters, `fit` through the one trainer and `score = user state @ item embeddings`.

A model file only defines an encoder: [B, L] item ids -> [B, L, d] states, where the state at
position t has read items up to t and no further (causal), so one pass trains every position.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import torch
from torch import nn

from protocols.errors import require
from protocols.interface import Recommender, plain_value
from protocols.search_space import Choice, Float
from protocols.types import PAD, FitData, UserBatch
from seqmodels.dropout import use_fast_dropout
from seqmodels.losses import SAMPLERS, list_losses, loss_class

LR_SCHEDULES = ("constant", "linear")


@dataclasses.dataclass(frozen=True)
class TrainParams:
    """Training settings shared by every sequence model (each model adds its own fields)."""

    emb_dim: int = 64  # item embedding size d, also the size of the user state
    dropout: float = 0.2
    lr: float = 2e-3  # AdamW learning rate (1e-3 to 5e-3 converge alike; 2e-3 fastest)
    # constant, or linear: decayed every step to zero at the end of the budget (`epochs`, or
    # `max_steps` when it ends sooner; budgeted training, Li et al., ICLR 2020)
    lr_schedule: str = "constant"
    weight_decay: float = 0.0
    batch_size: int = 128  # training sequences per step
    epochs: int = 200  # upper bound; early stopping usually ends sooner
    # 0: no limit; else at most this many optimiser steps, the last epoch cut short: a budget
    # that asks the same work of a small data set as of a large one (an epoch cap does not)
    max_steps: int = 0
    # 0: no limit; else no epoch starts that would, at the last epoch's pace, end past this many
    # seconds of training and validation: the same time for every model, a budget that depends
    # on the machine (the record keeps the epochs it got); the epochs and steps caps still hold
    max_seconds: float = 0.0
    patience: int = 5  # epochs without a better validation NDCG@10 before stopping
    # ... and at least this many optimiser steps: on a small data set an epoch is a few
    # steps and its validation users few, so 5 epochs stop runs on noise (ML-100K: 19 steps
    # an epoch, 943 users); ML-1M (>= 4) and Beauty, 112 and 176 steps an epoch, are unchanged
    patience_steps: int = 500
    loss: str = "ce"  # a name of seqmodels.losses: ce, bce, sampled-ce, gbce or a plugin's
    neg_ratio: int = 1  # bce and gbce: negatives per positive
    negatives: int = 256  # sampled-ce: negatives K shared by every position of a batch
    sampler: str = "uniform"  # sampled-ce: uniform or popularity (q ~ 1 + training count)
    gbce_t: float = 0.75  # gbce: calibration t in [0, 1] (gSASRec's default)
    all_windows: bool = True  # train on every SEQ_LEN window of long histories, not the last
    bf16_autocast: bool = False  # CUDA only; measured no faster at these sizes (launch-bound)

    # The losses a model with these parameters can train with; None: every registered loss.
    losses: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def usable_losses(cls) -> tuple[str, ...]:
        return cls.losses if cls.losses is not None else tuple(list_losses())

    @classmethod
    def can_train_with(cls, loss: str) -> bool:
        return loss in cls.usable_losses()

    def __post_init__(self) -> None:
        # Every value is checked here, when a configuration is built: before anything runs.
        loss_class(self.loss)  # an unknown name is an InputError listing the known ones
        require(
            self.can_train_with(self.loss),
            f"cannot train with --loss {self.loss}; use {', '.join(self.usable_losses())}",
        )
        for name in ("emb_dim", "batch_size", "epochs", "neg_ratio", "negatives"):
            require(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(self.patience >= 0, f"patience must be >= 0, got {self.patience}")
        require(self.patience_steps >= 0, f"patience_steps must be >= 0, got {self.patience_steps}")
        require(self.max_steps >= 0, f"max_steps must be >= 0, got {self.max_steps}")
        require(
            0 <= self.max_seconds < math.inf, f"max_seconds must be >= 0, got {self.max_seconds}"
        )
        require(
            not (self.max_seconds and self.lr_schedule != "constant"),
            f"lr_schedule {self.lr_schedule} anneals to the end of an epoch or step budget; "
            "max_seconds ends at a time not known in advance",
        )
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        require(0 < self.lr < math.inf, f"lr must be positive and finite, got {self.lr}")
        require(
            self.lr_schedule in LR_SCHEDULES,
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}",
        )
        require(
            0 <= self.weight_decay < math.inf, f"weight_decay must be >= 0, got {self.weight_decay}"
        )
        require(
            self.sampler in SAMPLERS,
            f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}",
        )
        require(0 <= self.gbce_t <= 1, f"gbce_t must be in [0, 1], got {self.gbce_t}")


def check_attention(p) -> None:
    """The checks the self-attention models' parameters (`blocks`, `heads`) share."""
    require(
        p.blocks >= 1 and p.heads >= 1,
        f"blocks and heads must be >= 1, got {p.blocks} and {p.heads}",
    )
    require(p.emb_dim % p.heads == 0, f"emb_dim {p.emb_dim} must divide by heads {p.heads}")


SCORE_GROUP = 256  # rows per length group when scoring

# What a search varies for every deep model (each model adds its depth and width). The epoch
# cap and patience stay fixed: they are the search budget, not the model.
TRAIN_SPACE = {
    "lr": Float(1e-4, 1e-2, log=True),
    "emb_dim": Choice((32, 64, 128)),
    "dropout": Float(0.0, 0.5),
    "weight_decay": Choice((0.0, 1e-4, 1e-3, 1e-2, 1e-1)),
    "batch_size": Choice((64, 128, 256)),
}


def front_aligned(encode, embedded: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Run a causal `encode` ([B, L, d] -> [B, L, h]) with each row's items moved to the front.

    Inputs are left-padded; a recurrent or convolutional encoder reading them as they are
    would carry the padding into every state. Rolling the items to the front (padding after
    them) means no item's state ever sees padding; the states are rolled back afterwards.
    """
    length = embedded.shape[1]
    pads = (~present).sum(dim=1, keepdim=True)  # [B, 1]
    positions = torch.arange(length, device=embedded.device)[None]  # [1, L]
    take = ((positions + pads) % length)[..., None]  # [B, L, 1]
    states = encode(embedded.gather(1, take.expand_as(embedded)))  # [B, L, h], items first
    back = ((positions - pads) % length)[..., None]
    return states.gather(1, back.expand(-1, -1, states.shape[-1]))


class ItemSequenceNet(nn.Module):
    """Item embeddings [n_items + 1, d] (row 0 = padding) around a causal encoder."""

    def __init__(self, n_items: int, params: TrainParams, encoder: nn.Module) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, params.emb_dim, padding_idx=PAD)
        nn.init.normal_(self.items.weight, std=params.emb_dim**-0.5)
        with torch.no_grad():
            self.items.weight[PAD].zero_()
        self.input_dropout = nn.Dropout(params.dropout)
        self.encoder = encoder
        use_fast_dropout(self)  # every nn.Dropout of the net, the encoder's included

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, L] item ids -> [B, L, d] states (position t has read items up to t)."""
        embedded = self.input_dropout(self.items(sequences))  # [B, L, d]
        return self.encoder(embedded, sequences != PAD)

    def item_scores(self, states: torch.Tensor) -> torch.Tensor:
        """[..., d] states -> [..., n_items + 1] scores."""
        return states @ self.items.weight.T


class SequenceModel(Recommender):
    """Base of the deep models. Subclasses implement `build_encoder(n_items, seq_len)`."""

    Params = TrainParams
    uses_seq_len = True
    # Modules whose code decides what a fit learns besides the class's own (its code
    # fingerprint hashes them too, so a changed trainer never reuses an old record).
    code_modules = ("seqmodels.train", "seqmodels.losses", "seqmodels.dropout")
    search_space = TRAIN_SPACE
    # Called as hook(model, entry) after each epoch's validation (a search's pruner, bench
    # scripts timing accuracy); they observe training and never steer it.
    epoch_hooks: tuple = ()

    @classmethod
    def can_train_with(cls, loss: str) -> bool:
        return cls.Params.can_train_with(loss)

    def set_epoch_hooks(self, hooks: tuple) -> None:
        self.epoch_hooks = tuple(hooks)

    def to_device(self, device: str) -> None:
        self.device_ = torch.device(device)
        if hasattr(self, "net_"):
            self.net_.to(self.device_)

    def build_encoder(self, n_items: int, seq_len: int) -> nn.Module:
        raise NotImplementedError

    def fitted_state(self) -> dict:
        """The network's weights (a state dict of tensors) and the plain attributes."""
        state = {k: v for k, v in vars(self).items() if k.endswith("_") and k != "net_"}
        plain = {k: plain_value(k, v) for k, v in state.items()}
        return {**plain, "net_": {k: v.cpu() for k, v in self.net_.state_dict().items()}}

    def load_fitted_state(self, state: dict) -> None:
        """The network rebuilt from the parameters and the data's shape, then its weights."""
        weights = state.pop("net_")
        super().load_fitted_state(state)
        encoder = self.build_encoder(self.n_items_, self.seq_len_)
        self.net_ = ItemSequenceNet(self.n_items_, self.params, encoder)
        self.net_.load_state_dict(weights)
        self.net_.to(self.device_)

    def fit(self, data: FitData) -> SequenceModel:
        from seqmodels.train import train  # the trainer needs this class; import it late

        p = self.params
        self.device_ = torch.device(data.device)
        self.seq_len_ = data.seq_len
        self.n_items_ = data.n_items
        # Weights, shuffling, dropout and negatives all draw from a seeded fork of torch's
        # generators: deterministic on the CPU, and the caller's random state is untouched.
        cuda = []
        if self.device_.type == "cuda":
            cuda = [self.device_.index if self.device_.index is not None else 0]
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(data.seed)
            encoder = self.build_encoder(data.n_items, data.seq_len)
            self.net_ = ItemSequenceNet(data.n_items, p, encoder).to(self.device_)
            self.training_ = train(self, data)
        return self

    def training_loss(self, inputs: torch.Tensor, targets: torch.Tensor, loss) -> torch.Tensor:
        """The objective of one batch: [B, L] inputs and next-item targets (0 = none).

        Next-item prediction at every position; a model with its own training task (masked
        items, say) overrides this and `last_state`, and nothing else.
        """
        states = self.net_(inputs)  # [B, L, d]
        present = targets != PAD
        return loss(self.net_, states[present], targets[present])  # states [M, d]

    def last_state(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, L] left-padded item ids -> [B, d]: the state that scores the next item."""
        return self.net_(sequences)[:, -1]

    @torch.no_grad()
    def score(self, batch: UserBatch) -> torch.Tensor:
        """Rows grouped by length and each group cut to its longest row (left padding changes
        no state, as in training), so the encoder runs over real items rather than padding."""
        self.net_.eval()
        sequences = batch.sequences[:, -self.seq_len_ :].to(self.device_)  # [B, L]
        lengths = (sequences != PAD).sum(dim=1)
        states = torch.empty(len(sequences), self.params.emb_dim, device=self.device_)
        for rows in torch.argsort(lengths).split(SCORE_GROUP):
            width = max(int(lengths[rows].max()), 1)
            states[rows] = self.last_state(sequences[rows, -width:]).float()  # [b, d]
        return self.net_.item_scores(states).float()  # [B, n_items + 1]
