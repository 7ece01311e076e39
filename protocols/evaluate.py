"""Ranks of held-out targets, read off one score matrix for both protocols.

Every batch is scored once, `model.score(batch) -> [B, n_items + 1]`; full ranking compares
the target with every candidate item, sampled ranking with the stored negatives (gathered
columns of the same matrix). Ties count against the target:
rank = #{j != t : s_j >= s_t}, so a constant scorer gets the worst rank.

Full-ranking candidates are every item except padding and, with `exclude_history` (the
default), the user's input history. A target inside its own input history cannot be ranked
while its history is excluded: that is refused, never patched by re-adding the target.
An optional re-ranker (`protocols.rerank`) turns each batch's scores into the ones ranked,
under both protocols; a global one first gets every user's best candidates (`plan`).

Each batch costs one pass to count, per target, the cells scoring at or above it (the
excluded cells, a handful per user, are counted apart and taken back out; numpy on a CPU)
and, for a top list, one copy with the excluded cells at -inf, one pass for the maxima of
64-column chunks and a top-k over the best chunks only: no per-target Python loop. Top lists
put equal scores in item order (the lower id first), so ties neither depend on the device nor
spread a tied tail over many items (which would flatter coverage).
NaN scores are refused (found by the chunk maxima; without a top list, the matrix sum is NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from protocols.errors import InputError, TrainingError
from protocols.interface import Recommender
from protocols.sequences import last_items
from protocols.types import EvalSet, UserBatch

if TYPE_CHECKING:
    from protocols.rerank import Reranker

TIE_RULE = "pessimistic: rank = #{j != target : score_j >= score_target}"


@dataclass(frozen=True)
class Ranks:
    """Per-user ranks (0 = best) of one evaluation set."""

    users: np.ndarray  # [U]
    full: np.ndarray  # [U, T] rank among all full-ranking candidates
    sampled: np.ndarray | None  # [U, T] rank among the targets and the sampled negatives
    full_candidates: np.ndarray  # [U] number of candidates under full ranking
    top_items: np.ndarray | None  # [U, top_k] the full-ranking top list, best first; -1: empty
    targets: np.ndarray  # [U, T] the held-out items
    history_lengths: np.ndarray  # [U] length of each user's input history
    # [U, min(top_k, T + N)] the top list within each user's sampled candidates (targets and
    # negatives), best first: what a sampled-protocol coverage counts
    sampled_top_items: np.ndarray | None = None


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
    rerank: Reranker | None = None,
    exclude_history: bool = True,
) -> Ranks:
    """Score every user of `eval_set` once (twice with a global re-ranker) and rank its
    targets under both protocols.

    `negatives` is [n_users, N] (rows indexed by user), or None to skip sampled ranking.
    """
    history = eval_set.inputs.to_csr(n_items + 1)  # [U, n_items + 1]
    lengths = np.diff(history.indptr)  # distinct history items per user
    if exclude_history:
        _refuse_targets_in_history(eval_set, history)
    sequences = torch.from_numpy(last_items(eval_set.inputs, seq_len))  # [U, L]
    buffers = _Buffers()

    def batches(desc: str):
        starts = range(0, eval_set.n_users, batch_size)
        for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
            rows = slice(start, start + batch_size)
            batch = UserBatch(eval_set.users[rows], sequences[rows], history[rows])
            scores = _scores(model, batch, n_items, device)  # [B, n_items + 1]
            yield rows, batch, scores, _excluded(batch, exclude_history, device)

    if rerank is not None and rerank.pool:  # global: every user's candidates first
        pools = []
        for rows, _, scores, excluded in batches("candidates"):
            items, row_maxima = _top_items(scores, excluded, min(rerank.pool, n_items), buffers)
            _refuse_nan(model, row_maxima)
            pools.append(_unfilled(items.cpu().numpy(), n_items - lengths[rows], exclude_history))
        rerank.plan(eval_set.users, np.concatenate(pools))
    full, sampled, tops, sampled_tops = [], [], [], []
    for rows, batch, scores, excluded in batches("evaluate"):
        targets = torch.as_tensor(eval_set.targets[rows], device=device)  # [B, T]
        if rerank is not None:
            allowed = torch.ones(scores.shape, dtype=torch.bool, device=device)
            allowed[excluded] = False
            scores = rerank(scores, allowed, batch)
        if top_k:
            items, row_maxima = _top_items(scores, excluded, min(top_k, n_items), buffers)
            _refuse_nan(model, row_maxima)
            tops.append(_unfilled(items.cpu().numpy(), n_items - lengths[rows], exclude_history))
        elif torch.isnan(scores.sum()):  # one cheap pass; only then (NaN, or +inf + -inf)
            _refuse_nan(model, scores)  # is every cell looked at
        full.append(_full_ranks(scores, targets, excluded, buffers))
        if negatives is not None:
            negs = torch.as_tensor(negatives[batch.users], device=device)  # [B, N]
            sampled.append(_sampled_ranks(scores, targets, negs))
            if top_k:
                sampled_tops.append(_sampled_top_items(scores, targets, negs, top_k))
    n_targets = eval_set.targets.shape[1]
    return Ranks(
        users=eval_set.users,
        full=np.concatenate(full) if full else np.zeros((0, n_targets), np.int64),
        sampled=np.concatenate(sampled) if sampled else None,
        full_candidates=n_items - lengths if exclude_history else np.full(len(lengths), n_items),
        top_items=np.concatenate(tops) if tops else None,
        targets=eval_set.targets,
        history_lengths=lengths,
        sampled_top_items=np.concatenate(sampled_tops) if sampled_tops else None,
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


def _full_ranks(scores: torch.Tensor, targets: torch.Tensor, excluded, buffers) -> np.ndarray:
    """Ranks [B, T]: cells at or above each target, minus the excluded ones among them, minus
    the target itself (always a candidate)."""
    target_scores = scores.gather(1, targets)  # [B, T]
    counts = _at_or_above(scores, target_scores, buffers)
    rows, cols = excluded
    above = scores[rows, cols][:, None] >= target_scores[rows]  # [E, T]
    counts -= torch.zeros_like(counts).index_add_(0, rows, above.long())
    return (counts - 1).cpu().numpy()


def _at_or_above(scores: torch.Tensor, target_scores: torch.Tensor, buffers) -> torch.Tensor:
    """[B, T] int64: per row, the cells scoring at or above each of its targets. On the CPU
    numpy compares and sums about twice as fast as torch (bench/bench_speed.py)."""
    if scores.device.type != "cpu" or scores.dtype not in (torch.float32, torch.float64):
        hits = scores[:, None, :] >= target_scores[:, :, None]  # [B, T, N]
        return _count(hits, dim=2)
    s, t = scores.detach().numpy(), target_scores.detach().numpy()
    hits = buffers.hits((len(s), t.shape[1], s.shape[1]))
    np.greater_equal(s[:, None, :], t[:, :, None], out=hits)
    counts = hits.view(np.uint8).sum(axis=2, dtype=np.uint32)  # a third faster than int64
    return torch.from_numpy(counts.astype(np.int64))


CHUNK = 64  # top lists: columns per chunk of the two-stage top-k


def _top_items(scores: torch.Tensor, excluded, k: int, buffers):
    """(items [B, k], row maxima [B]): each row's k best items, best first, excluded items
    scoring -inf; equal scores in item order (the lower id first) on every device. The row
    maxima are NaN where a row holds one.

    Two stages: the k chunks of CHUNK columns that come first by (maximum, then position)
    hold the k best cells (each chunk after them has k chunks ahead, whose first cells all
    come before its own), so a top-k over k x CHUNK gathered cells replaces one over the
    whole row. Scores are compared in float32.
    """
    b, n = scores.shape
    n_chunks = -(-n // CHUNK)
    masked = buffers.padded(b, n_chunks * CHUNK, scores.device)  # float32, -inf past n
    masked[:, :n].copy_(scores)
    masked[:, :n].index_put_(excluded, masked.new_tensor(-torch.inf))
    maxima = masked.view(b, n_chunks, CHUNK).amax(dim=2)  # [B, C]; NaN propagates
    positions = torch.arange(n_chunks * CHUNK, device=masked.device)
    if n_chunks <= k:
        cols, values = positions.expand(b, -1), masked
    else:
        chunks = order_keys(maxima, positions[:n_chunks]).topk(k, dim=1).indices  # [B, k]
        cols = (chunks[:, :, None] * CHUNK + positions[:CHUNK]).flatten(1)  # [B, k x CHUNK]
        values = masked.gather(1, cols)
    return cols.gather(1, _first_k(values, cols, k)), maxima.amax(dim=1)


def _unfilled(items: np.ndarray, candidates: np.ndarray, exclude_history: bool) -> np.ndarray:
    """The top lists with -1 in the slots past a row's number of candidates (a history that
    covers all but a few items), which would otherwise hold excluded items."""
    if exclude_history:
        items[np.arange(items.shape[1]) >= candidates[:, None]] = -1
    return items


def _first_k(values: torch.Tensor, cols: torch.Tensor, k: int) -> torch.Tensor:
    """Indices [B, k] of each row's first k cells by (value, then the lower column). A plain
    top-k finds them unless an equal value lies across the k-th place; then the keys decide."""
    best = values.topk(k, dim=1)
    kth = best.values[:, -1:]
    if ((values >= kth).sum(dim=1, dtype=torch.int32) > k).any():  # an equal value at the edge
        return order_keys(values, cols).topk(k, dim=1).indices
    keys = order_keys(best.values, cols.gather(1, best.indices))  # ties inside: by column
    return best.indices.gather(1, keys.argsort(dim=1, descending=True))


def order_keys(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """int64 keys, all distinct, ordered like (float32 value, then the lower position): the
    value's bits made monotone (negative floats reversed) above the inverted position."""
    bits = (values + 0.0).view(torch.int32).long()  # + 0.0 makes -0.0 equal to +0.0
    monotone = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return monotone * 2**32 + (2**32 - 1 - positions)


class _Buffers:
    """Work arrays reused from batch to batch (fresh large ones are zero-filled page by page)."""

    def __init__(self) -> None:
        self._hits = np.empty(0, dtype=np.bool_)
        self._padded: torch.Tensor | None = None

    def hits(self, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        if self._hits.size < size:
            self._hits = np.empty(size, dtype=np.bool_)
        return self._hits[:size].reshape(shape)

    def padded(self, rows: int, cols: int, device) -> torch.Tensor:
        """[rows, cols] float32 on `device`; columns never written stay -inf."""
        t = self._padded
        if t is None or len(t) < rows or t.shape[1] != cols:
            t = self._padded = torch.full((rows, cols), -torch.inf, device=device)
        return t[:rows]


def _sampled_ranks(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor):
    candidates = torch.cat([targets, negatives], dim=1)  # [B, T + N]
    cand_scores = scores.gather(1, candidates)
    n_targets = targets.shape[1]
    beats = cand_scores[:, None, :] >= cand_scores[:, :n_targets, None]  # [B, T, T + N]
    return (_count(beats, dim=2) - 1).cpu().numpy()


def _sampled_top_items(scores, targets, negatives, k: int) -> np.ndarray:
    """[B, min(k, T + N)] the best of each user's sampled candidates, best first, equal
    scores by the lower item id (as the full-ranking lists)."""
    candidates = torch.cat([targets, negatives], dim=1)  # [B, T + N]
    keys = order_keys(scores.gather(1, candidates).float(), candidates)
    best = keys.topk(min(k, candidates.shape[1]), dim=1).indices
    return candidates.gather(1, best).cpu().numpy()


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
