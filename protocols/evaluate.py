"""Ranks of held-out targets, read off one score matrix for both protocols.

Every batch is scored once, `model.score(batch) -> [B, n_items + 1]`; full ranking compares
the target with every item outside the user's input history (with `exclude_history`, the
`--repeats first` policy) or with every item (`--repeats keep`), sampled ranking with the stored
negatives (gathered columns of the same matrix). Ties count against the target:
rank = #{j != t : s_j >= s_t}, so a constant scorer gets the worst rank. A popularity penalty
α (`protocols.popularity.penalise`) is applied to the matrix before both protocols rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from protocols.errors import InputError
from protocols.interface import Recommender
from protocols.popularity import penalise
from protocols.sequences import last_items
from protocols.types import EvalSet, UserBatch

TIE_RULE = "pessimistic: rank = #{j != target : score_j >= score_target}"


@dataclass(frozen=True)
class Ranks:
    """Per-user ranks (0 = best) of one evaluation set."""

    users: np.ndarray  # [U]
    full: np.ndarray  # [U, T] rank among the full-ranking candidates
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
    batch_size: int = 512,
    device: str = "cpu",
    top_k: int = 0,
    progress: bool = False,
    pop_z: np.ndarray | None = None,
    alpha: float = 0.0,
    exclude_history: bool = True,
) -> Ranks:
    """Score every user of `eval_set` once and rank its targets under both protocols.

    `negatives` is [n_users, N] (rows indexed by user), or None to skip sampled ranking.
    `alpha` > 0 penalises popularity with `pop_z`, the standardised log popularity [n_items + 1].
    Full-ranking candidates: every item except padding and, with `exclude_history`, the input
    history. A target inside its own input history is then refused: putting it back would make
    it the only history item left among the candidates, which gives it away.
    """
    if alpha and pop_z is None:
        raise ValueError("a popularity penalty needs pop_z")
    pop_z_t = torch.as_tensor(pop_z, device=device) if alpha else None
    history = eval_set.inputs.to_csr(n_items + 1)  # [U, n_items + 1]
    if exclude_history and _targets_in_history(eval_set, history).any():
        raise InputError("target item is in the user's input history; use --repeats first or keep")
    sequences = torch.from_numpy(last_items(eval_set.inputs, seq_len))  # [U, L]
    full, sampled, tops = [], [], []
    starts = range(0, eval_set.n_users, batch_size)
    for start in tqdm(starts, desc="evaluate", disable=not progress, leave=False):
        rows = slice(start, start + batch_size)
        batch = UserBatch(eval_set.users[rows], sequences[rows], history[rows])
        scores = _checked_scores(model, batch, n_items, device)  # [B, n_items + 1]
        targets = torch.as_tensor(eval_set.targets[rows], device=device)  # [B, T]
        allowed = _full_candidates(batch, exclude_history, scores.shape[1], device)  # [B, C]
        scores = penalise(scores, allowed, pop_z_t, alpha)
        full.append(_full_ranks(scores, targets, allowed))
        if negatives is not None:
            negs = torch.as_tensor(negatives[batch.users], device=device)  # [B, N]
            sampled.append(_sampled_ranks(scores, targets, negs))
        if top_k:
            masked = scores.masked_fill(~allowed, -torch.inf)
            tops.append(masked.topk(top_k, dim=1).indices.cpu().numpy())
    lengths = np.diff(history.indptr)
    n_targets = eval_set.targets.shape[1]
    return Ranks(
        users=eval_set.users,
        full=np.concatenate(full) if full else np.zeros((0, n_targets), np.int64),
        sampled=np.concatenate(sampled) if sampled else None,
        full_candidates=n_items - lengths if exclude_history else np.full_like(lengths, n_items),
        top_items=np.concatenate(tops) if tops else None,
        targets=eval_set.targets,
        history_lengths=lengths,
    )


def _checked_scores(model: Recommender, batch: UserBatch, n_items: int, device: str):
    scores = model.score(batch)
    expected = (len(batch), n_items + 1)
    if tuple(scores.shape) != expected:
        raise ValueError(
            f"{model.name or model}: score() returned {tuple(scores.shape)}, expected {expected}"
        )
    if torch.isnan(scores).any():  # NaN compares False with everything: it would flatter
        raise ValueError(f"{model.name or model}: score() returned NaN")
    scores = scores.to(device)
    return scores if scores.is_floating_point() else scores.float()


def _full_candidates(batch: UserBatch, exclude_history: bool, n_columns: int, device: str):
    """[B, C] bool: every item except padding and (`exclude_history`) the input history."""
    allowed = torch.ones(len(batch), n_columns, dtype=torch.bool, device=device)
    allowed[:, 0] = False
    if not exclude_history:
        return allowed
    h = batch.history.tocoo()
    rows = torch.as_tensor(h.row, dtype=torch.long, device=device)
    cols = torch.as_tensor(h.col, dtype=torch.long, device=device)
    allowed[rows, cols] = False
    return allowed


def _full_ranks(scores: torch.Tensor, targets: torch.Tensor, allowed: torch.Tensor) -> np.ndarray:
    target_scores = scores.gather(1, targets)  # [B, T]
    ranks = torch.stack(
        [((scores >= target_scores[:, [t]]) & allowed).sum(dim=1) for t in range(targets.shape[1])],
        dim=1,
    )  # [B, T]; each count includes the target itself
    return (ranks - 1).cpu().numpy()


def _sampled_ranks(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor):
    candidates = torch.cat([targets, negatives], dim=1)  # [B, T + N]
    cand_scores = scores.gather(1, candidates)
    n_targets = targets.shape[1]
    beats = cand_scores[:, None, :] >= cand_scores[:, :n_targets, None]  # [B, T, T + N]
    return (beats.sum(dim=2) - 1).cpu().numpy()


def _targets_in_history(eval_set: EvalSet, history) -> np.ndarray:
    """[U] how many of a user's targets are also in its input history."""
    rows = np.repeat(np.arange(eval_set.n_users), eval_set.targets.shape[1])
    hits = np.asarray(history[rows, eval_set.targets.ravel()]).ravel()
    return hits.reshape(eval_set.targets.shape).sum(axis=1).astype(np.int64)
