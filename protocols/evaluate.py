"""Ranks of held-out targets, read off one score matrix for both protocols.

Every batch is scored once, `model.score(batch) -> [B, n_items + 1]`; full ranking compares
the target with every candidate item, sampled ranking with the stored negatives (gathered
columns of the same matrix). Ties count against the target:
rank = #{j != t : s_j >= s_t}, so a constant scorer gets the worst rank.

Full-ranking candidates are every item except padding and, with `exclude_history` (the
default), the user's input history. A target inside its own input history cannot be ranked
while its history is excluded: that is refused, never patched by re-adding the target.
An optional `transform(scores, allowed) -> scores` (e.g. `protocols.popularity.PopularityPenalty`)
re-scores the matrix before both protocols rank.

Each batch costs one pass to count, per target, the cells scoring at or above it (the
excluded cells, a handful per user, are counted apart and taken back out) and, for a top
list, one copy with the excluded cells at -inf and one top-k pass: no per-target Python loop.
NaN scores are refused (top-k puts NaN first; without a top list, the matrix sum is NaN).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from protocols.errors import InputError, TrainingError
from protocols.interface import Recommender
from protocols.sequences import last_items
from protocols.types import EvalSet, UserBatch

TIE_RULE = "pessimistic: rank = #{j != target : score_j >= score_target}"
Transform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (scores, allowed) -> scores


@dataclass(frozen=True)
class Ranks:
    """Per-user ranks (0 = best) of one evaluation set."""

    users: np.ndarray  # [U]
    full: np.ndarray  # [U, T] rank among all full-ranking candidates
    sampled: np.ndarray | None  # [U, T] rank among the targets and the sampled negatives
    full_candidates: np.ndarray  # [U] number of candidates under full ranking
    top_items: np.ndarray | None  # [U, top_k] the full-ranking top list, best first
    targets: np.ndarray  # [U, T] the held-out items
    history_lengths: np.ndarray  # [U] length of each user's input history


def rank_targets(
    model: Recommender,
    eval_set: EvalSet,
    n_items: int,
    seq_len: int,
    negatives: np.ndarray | None = None,
    *,
    batch_size: int = 512,
    device: str = "cpu",
    top_k: int = 0,
    progress: bool = False,
    transform: Transform | None = None,
    exclude_history: bool = True,
) -> Ranks:
    """Score every user of `eval_set` once and rank its targets under both protocols.

    `negatives` is [n_users, N] (rows indexed by user), or None to skip sampled ranking.
    """
    history = eval_set.inputs.to_csr(n_items + 1)  # [U, n_items + 1]
    lengths = np.diff(history.indptr)  # distinct history items per user
    if exclude_history:
        _refuse_targets_in_history(eval_set, history)
    sequences = torch.from_numpy(last_items(eval_set.inputs, seq_len))  # [U, L]
    full, sampled, tops = [], [], []
    buffer = None  # reused copy of a batch's scores for the top lists
    starts = range(0, eval_set.n_users, batch_size)
    for start in tqdm(starts, desc="evaluate", disable=not progress, leave=False):
        rows = slice(start, start + batch_size)
        batch = UserBatch(eval_set.users[rows], sequences[rows], history[rows])
        scores = _scores(model, batch, n_items, device)  # [B, n_items + 1]
        targets = torch.as_tensor(eval_set.targets[rows], device=device)  # [B, T]
        excluded = _excluded(batch, exclude_history, device)  # (rows, cols) of excluded cells
        if transform is not None:
            allowed = torch.ones(scores.shape, dtype=torch.bool, device=device)
            allowed[excluded] = False
            scores = transform(scores, allowed)
        if top_k:
            if buffer is None or len(buffer) < len(scores):
                buffer = torch.empty(scores.shape, dtype=scores.dtype, device=device)
            masked = buffer[: len(scores)].copy_(scores)
            masked.index_put_(excluded, masked.new_tensor(-torch.inf))
            values, items = masked.topk(min(top_k, n_items), dim=1)  # NaN sorts first
            _refuse_nan(model, values[:, 0])
            tops.append(items.cpu().numpy())
        elif torch.isnan(scores.sum()):  # one cheap pass; only then (NaN, or +inf + -inf)
            _refuse_nan(model, scores)  # is every cell looked at
        full.append(_full_ranks(scores, targets, excluded))
        if negatives is not None:
            negs = torch.as_tensor(negatives[batch.users], device=device)  # [B, N]
            sampled.append(_sampled_ranks(scores, targets, negs))
    n_targets = eval_set.targets.shape[1]
    return Ranks(
        users=eval_set.users,
        full=np.concatenate(full) if full else np.zeros((0, n_targets), np.int64),
        sampled=np.concatenate(sampled) if sampled else None,
        full_candidates=n_items - lengths if exclude_history else np.full(len(lengths), n_items),
        top_items=np.concatenate(tops) if tops else None,
        targets=eval_set.targets,
        history_lengths=lengths,
    )


def _scores(model: Recommender, batch: UserBatch, n_items: int, device: str) -> torch.Tensor:
    scores = model.score(batch)  # read only: may be a broadcast view
    expected = (len(batch), n_items + 1)
    if tuple(scores.shape) != expected:
        raise TrainingError(
            f"{_name(model)}: score() returned {tuple(scores.shape)}, expected {expected}"
        )
    scores = scores.to(device)
    return scores if scores.is_floating_point() else scores.float()


def _refuse_nan(model: Recommender, probe: torch.Tensor) -> None:
    """NaN compares False with everything, so it would flatter: refused if `probe` (the top
    candidate score of each row, or the scores themselves) holds one."""
    if torch.isnan(probe).any():
        raise TrainingError(f"{_name(model)}: score() returned NaN")


def _name(model: Recommender) -> str:
    return model.name or type(model).__name__


def _excluded(batch: UserBatch, exclude_history: bool, device: str):
    """(rows, cols) long tensors of the cells that are no full-ranking candidates: the
    padding column of every row and, if asked, every input-history item."""
    b = len(batch)
    pad_rows = torch.arange(b, device=device)
    pad_cols = torch.zeros(b, dtype=torch.long, device=device)
    if not exclude_history:
        return pad_rows, pad_cols
    h = batch.history  # CSR [B, n_items + 1]
    rows = torch.as_tensor(np.repeat(np.arange(b), np.diff(h.indptr)), device=device)
    cols = torch.as_tensor(h.indices, dtype=torch.long, device=device)
    return torch.cat([pad_rows, rows]), torch.cat([pad_cols, cols])


def _full_ranks(scores: torch.Tensor, targets: torch.Tensor, excluded) -> np.ndarray:
    """Ranks [B, T]: cells at or above each target, minus the excluded ones among them, minus
    the target itself (always a candidate)."""
    target_scores = scores.gather(1, targets)  # [B, T]
    if targets.shape[1] == 1:
        counts = _count(scores >= target_scores, dim=1, keepdim=True)  # [B, 1]
    else:
        counts = _count(scores[:, None, :] >= target_scores[:, :, None], dim=2)  # [B, T]
    rows, cols = excluded
    above = scores[rows, cols][:, None] >= target_scores[rows]  # [E, T]
    counts -= torch.zeros_like(counts).index_add_(0, rows, above.long())
    return (counts - 1).cpu().numpy()


def _sampled_ranks(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor):
    candidates = torch.cat([targets, negatives], dim=1)  # [B, T + N]
    cand_scores = scores.gather(1, candidates)
    n_targets = targets.shape[1]
    beats = cand_scores[:, None, :] >= cand_scores[:, :n_targets, None]  # [B, T, T + N]
    return (_count(beats, dim=2) - 1).cpu().numpy()


def _count(hits: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """int64 count of True along `dim` (summed as int32: several times faster than bool)."""
    return hits.sum(dim=dim, keepdim=keepdim, dtype=torch.int32).long()


def _refuse_targets_in_history(eval_set: EvalSet, history) -> None:
    """InputError if any target is also an item of its user's input history."""
    if eval_set.n_users == 0 or eval_set.targets.size == 0:
        return
    rows = np.repeat(np.arange(eval_set.n_users), eval_set.targets.shape[1])
    hits = np.asarray(history[rows, eval_set.targets.ravel()]).ravel()
    if hits.any():
        raise InputError(
            f"{int((hits > 0).sum())} target item(s) are in the user's input history; "
            "use --repeats first or keep"
        )
