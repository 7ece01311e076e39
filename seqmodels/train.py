"""The one training loop of every sequence model.

Training sequences are built once as integer tensors on the training device; a batch is a
slice of them. Every position with a target contributes to the loss. After each epoch the
model is scored on the validation users (full ranking, NDCG@10); the best epoch's weights are
restored at the end. No `.item()` inside the step loop: losses are summed on the device.
"""

from __future__ import annotations

import copy
import logging
import math
import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from protocols.errors import TrainingError
from protocols.evaluate import rank_targets
from protocols.metrics import ndcg
from protocols.sequences import training_windows
from protocols.types import PAD, FitData

log = logging.getLogger(__name__)


def train(model, data: FitData) -> dict:
    """Fit `model.net_` in place; return the training history for the run record."""
    p, net, device = model.params, model.net_, model.device_
    inputs, targets = (
        torch.from_numpy(a).to(device)
        for a in training_windows(data.train, data.seq_len, p.all_windows)
    )
    optimiser = torch.optim.AdamW(net.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    use_bf16 = p.bf16_autocast and device.type == "cuda" and torch.cuda.is_bf16_supported()
    history, best, best_state, best_epoch = [], -1.0, None, 0
    for epoch in range(1, p.epochs + 1):
        start = time.perf_counter()
        loss = _epoch(net, optimiser, inputs, targets, p, data.n_items, use_bf16)
        mean_loss = float(loss)  # one host sync per epoch
        train_seconds = time.perf_counter() - start
        if not math.isfinite(mean_loss):
            raise TrainingError(f"{model.name}: training loss is {mean_loss} at epoch {epoch}")
        valid_ndcg = _validate(model, data)
        entry = {
            "epoch": epoch,
            "loss": mean_loss,
            "valid_NDCG@10": valid_ndcg,
            "train_seconds": train_seconds,
            "valid_seconds": time.perf_counter() - start - train_seconds,
        }
        history.append(entry)
        log.info(
            "%s epoch %d: loss %.4f, valid NDCG@10 %.4f (train %.1fs, valid %.1fs)",
            model.name,
            epoch,
            mean_loss,
            valid_ndcg,
            train_seconds,
            entry["valid_seconds"],
        )
        for hook in model.epoch_hooks:
            hook(model, entry)
        if valid_ndcg > best or data.valid.n_users == 0:  # no validation: keep the latest
            best, best_epoch = valid_ndcg, epoch
            best_state = copy.deepcopy(net.state_dict())
        elif epoch - best_epoch >= p.patience:
            break
    net.load_state_dict(best_state)
    net.eval()
    return {
        "history": history,
        "best_epoch": best_epoch,
        "best_valid_NDCG@10": best,
        "device": str(device),
        "training_sequences": len(inputs),
    }


def _epoch(net, optimiser, inputs, targets, p, n_items: int, use_bf16: bool) -> torch.Tensor:
    net.train()
    order = torch.randperm(len(inputs), device=inputs.device)
    total = torch.zeros((), device=inputs.device)
    steps = range(0, len(inputs), p.batch_size)
    quiet = True if len(steps) < 200 else None  # None: tqdm shows bars only on a terminal
    for start in tqdm(steps, desc="train", leave=False, disable=quiet):
        rows = order[start : start + p.batch_size]
        with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = _loss(net, inputs[rows], targets[rows], p, n_items)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total += loss.detach() * len(rows)
    return total / len(inputs)


def _loss(net, inputs, targets, p, n_items: int) -> torch.Tensor:
    states = net(inputs)  # [B, L, d]
    present = targets != PAD
    states, positives = states[present], targets[present]  # [M, d], [M]
    if p.loss == "ce":
        logits = net.item_scores(states).float()  # [M, n_items + 1]
        logits[:, PAD] = -torch.inf
        return F.cross_entropy(logits, positives)
    # bce: neg_ratio uniform negatives per positive, never the positive itself
    negatives = torch.randint(1, n_items, (len(positives), p.neg_ratio), device=states.device)
    negatives += (negatives >= positives[:, None]).long()  # skip the positive: uniform over rest
    pos_scores = (states * net.items(positives)).sum(-1)  # [M]
    neg_scores = (states[:, None, :] * net.items(negatives)).sum(-1)  # [M, neg_ratio]
    return F.softplus(-pos_scores.float()).mean() + F.softplus(neg_scores.float()).mean()


def _validate(model, data: FitData) -> float:
    """Mean full-ranking NDCG@10 on the validation users (the early-stopping signal)."""
    if data.valid.n_users == 0:
        return 0.0
    ranks = rank_targets(
        model,
        data.valid,
        data.n_items,
        data.seq_len,
        None,
        batch_size=1024,
        device=str(model.device_),
        exclude_history=data.exclude_history,
    )
    return float(ndcg(ranks.full, 10).mean())
