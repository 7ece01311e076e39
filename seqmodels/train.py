"""The one training loop of every sequence model.

Training sequences are built once as integer tensors on the training device. Batches group
windows of similar length (shuffled within chunks of many batches, then the batches
shuffled) and each batch is cut to its longest row, so the encoder runs over real positions
rather than left padding; every training position is still in exactly one batch per epoch.
A batch's loss (a mean over its positions) is weighted by its share of the positions, so a
batch of short windows moves the weights as little as its few positions warrant: every
position weighs the same, as in batches of mixed lengths (without the weight, bucketed batches
gave short histories several times the weight and lowered test NDCG@10, bench/bench_paired_seeds.py).
The objective is the model's `training_loss` with a loss of `seqmodels.losses`. After each epoch the
model is scored on the validation users (full ranking, NDCG@10); the best epoch's weights are
restored at the end. No `.item()` inside the step loop: losses are summed on the device.
Training ends after `epochs` epochs or `max_steps` optimiser steps, whichever comes first (the
last epoch cut short and validated like the others); with `lr_schedule` linear the learning
rate falls every step, to zero at the last step of that budget, so a capped run ends annealed.
With `max_seconds`, no epoch starts that would end past that many seconds of training and
validation if it lasted as long as the last one.
On Linux, freed large blocks are kept for reuse (`seqmodels.memory`).
"""

from __future__ import annotations

import copy
import logging
import math
import time

import torch
from tqdm.auto import tqdm

from protocols.errors import TrainingError
from protocols.evaluate import rank_targets
from protocols.metrics import ndcg
from protocols.popularity import item_popularity
from protocols.sequences import training_windows
from protocols.types import PAD, FitData
from seqmodels.losses import create_loss
from seqmodels.memory import reuse_freed_memory

CHUNK_BATCHES = 50  # batches sorted by length together: grouping without a fixed order

log = logging.getLogger(__name__)


def train(model, data: FitData) -> dict:
    """Fit `model.net_` in place; return the training history for the run record."""
    p, net, device = model.params, model.net_, model.device_
    reuse_freed_memory()  # no page faults per step for the [positions, items] logits
    inputs, targets = (
        torch.from_numpy(a).to(device)
        for a in training_windows(data.train, data.seq_len, p.all_windows)
    )
    lengths = (inputs != PAD).sum(dim=1).cpu()  # [S] real input positions per window
    loss_fn = create_loss(p.loss, p, data.n_items, item_popularity(data.train, data.n_items))
    # fused: one kernel over every parameter (a step on the CPU 12x faster than per tensor)
    optimiser = torch.optim.AdamW(net.parameters(), p.lr, weight_decay=p.weight_decay, fused=True)
    budget = step_budget(p, len(inputs))
    schedule = lr_schedule(optimiser, p, budget)
    # mean target positions of a full epoch's batch: a batch's loss weighs its share of that,
    # in an epoch cut short by the budget too
    per_batch = (targets != PAD).sum() / batches_per_epoch(len(inputs), p.batch_size)
    patience = patience_epochs(p, len(inputs))
    steps = 0
    use_bf16 = p.bf16_autocast and device.type == "cuda" and torch.cuda.is_bf16_supported()
    history, best, best_state, best_epoch = [], -1.0, None, 0
    for epoch in range(1, p.epochs + 1):
        start = time.perf_counter()
        batches = length_batches(lengths, p.batch_size)[: budget - steps]
        steps += len(batches)
        loss = _epoch(
            model, optimiser, schedule, inputs, targets, batches, per_batch, loss_fn, use_bf16
        )
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
        elif epoch - best_epoch >= patience:
            break
        if steps >= budget or out_of_time(history, p.max_seconds):
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


def epoch_seconds(entry: dict) -> float:
    """An epoch's training and validation seconds, from its history entry."""
    return entry["train_seconds"] + entry["valid_seconds"]


def out_of_time(history: list[dict], max_seconds: float) -> bool:
    """Whether another epoch as long as the last would end past `max_seconds` (0: never)."""
    if not max_seconds:
        return False
    spent = [epoch_seconds(e) for e in history]
    return sum(spent) + spent[-1] > max_seconds


def step_budget(p, windows: int) -> int:
    """Optimiser steps a fit may take over `windows` training windows: `epochs` epochs, or
    `max_steps` when that is fewer."""
    steps = p.epochs * batches_per_epoch(windows, p.batch_size)
    return min(steps, p.max_steps) if p.max_steps else steps


def patience_epochs(p, windows: int) -> int:
    """Epochs without a better validation score before stopping: `patience`, or as many as
    `patience_steps` optimiser steps take when that is more."""
    return max(p.patience, math.ceil(p.patience_steps / batches_per_epoch(windows, p.batch_size)))


def lr_schedule(optimiser, p, steps: int):
    """The per-step learning-rate schedule of `p.lr_schedule` over a budget of `steps`; None
    keeps the rate constant."""
    if p.lr_schedule == "constant":
        return None
    return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: max(0.0, 1 - step / steps))


def batches_per_epoch(rows: int, batch_size: int, chunk: int = CHUNK_BATCHES) -> int:
    """How many batches `length_batches` cuts `rows` rows into (the same every epoch)."""
    whole, rest = divmod(rows, batch_size * chunk)
    return whole * chunk + math.ceil(rest / batch_size)


def length_batches(lengths: torch.Tensor, batch_size: int, chunk: int = CHUNK_BATCHES):
    """[(rows [b], width)]: a random order of every row, grouped by length.

    The rows are shuffled, each run of `chunk` batches is sorted by length and cut into
    batches, and the batches are shuffled; `width` is the longest row of a batch.
    """
    order = torch.randperm(len(lengths))
    batches = []
    for part in order.split(batch_size * chunk):
        part = part[torch.argsort(lengths[part], stable=True)]
        batches += list(part.split(batch_size))
    shuffled = torch.randperm(len(batches)).tolist()
    return [(batches[i], max(int(lengths[batches[i]].max()), 1)) for i in shuffled]


def _epoch(
    model, optimiser, schedule, inputs, targets, batches, per_batch, loss_fn, use_bf16: bool
) -> torch.Tensor:
    model.net_.train()
    device = inputs.device
    total = torch.zeros((), device=device)
    quiet = True if len(batches) < 200 else None  # None: tqdm shows bars only on a terminal
    for rows, width in tqdm(batches, desc="train", leave=False, disable=quiet):
        rows = rows.to(device)
        x, y = inputs[rows, -width:], targets[rows, -width:]  # [b, width], left-padded
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = model.training_loss(x, y, loss_fn)
        optimiser.zero_grad(set_to_none=True)
        (loss * ((y != PAD).sum() / per_batch)).backward()  # each position weighs the same
        optimiser.step()
        if schedule is not None:
            schedule.step()
        total += loss.detach() * len(rows)
    return total / sum(len(rows) for rows, _ in batches)  # mean over the rows trained


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
