"""Global list re-rankers, deciding every user's list together: `exposure-cap` and
`coverage-fill`.

Both walk the users round-robin (slot by slot, the users in an order drawn from the run's
seed), each user taking from its own `POOL` best candidates, best first. Deterministic given
the seed; a loop over users x slots (timed in bench/bench_rerank.py).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from protocols.errors import InputError
from protocols.rerank import LIST_LENGTH, Reranker, Strength, lift, register_reranker
from protocols.types import UserBatch

log = logging.getLogger(__name__)
POOL = 1000  # candidates per user the round-robin draws from


class RoundRobin(Reranker):
    """Holds the planned lists; `__call__` lifts each batch's lists above the rest."""

    pool = POOL

    def plan(self, users: np.ndarray, pools: np.ndarray) -> None:
        self.row_of = {int(u): r for r, u in enumerate(users)}
        order = np.random.default_rng(self.seed).permutation(len(users))
        self.lists = self.assign([row[row > 0] for row in pools], order)

    def assign(self, pools: list[np.ndarray], order: np.ndarray) -> np.ndarray:
        """[U, LIST_LENGTH] item lists (-1 empty) from each user's pool, best first."""
        raise NotImplementedError

    def planned(self, batch: UserBatch, device) -> torch.Tensor:
        rows = [self.row_of[int(u)] for u in batch.users]
        return torch.as_tensor(self.lists[rows], device=device)


def first_free(pool: np.ndarray, start: int, taken: np.ndarray) -> int:
    """The first position >= `start` of `pool` whose item is not `taken`; len(pool) if none."""
    free = np.flatnonzero(~taken[pool[start:]])
    return start + int(free[0]) if len(free) else len(pool)


@register_reranker("exposure-cap")
class ExposureCap(RoundRobin):
    """No item enters more than `cap` users' lists: round-robin over users, each taking its
    best pooled item still under the cap. A user whose pool runs out takes its best items
    under the cap from all its candidates, batch by batch (in evaluation order)."""

    strength = Strength(
        "cap",
        1,
        float("inf"),
        (10, 20, 30, 50, 100, 200, 500),
        integer=True,
        meaning="the most users' lists one item may enter",
        increasing=False,
    )

    def check_feasible(self, n_users: int, n_items: int) -> None:
        if self.value * n_items < n_users * LIST_LENGTH:
            least = -(-n_users * LIST_LENGTH // n_items)
            raise InputError(
                f"--rerank exposure-cap={self.value:g}: {n_items} items x {self.value:g} users "
                f"cannot fill {n_users} lists of {LIST_LENGTH}; the cap must be >= {least}"
            )

    def assign(self, pools: list[np.ndarray], order: np.ndarray) -> np.ndarray:
        cap = int(self.value)
        self.count = np.zeros(len(self.popularity), dtype=np.int64)
        full = np.zeros(len(self.popularity), dtype=bool)  # items at the cap, for good
        lists = np.full((len(pools), LIST_LENGTH), -1, dtype=np.int64)
        next_at = [0] * len(pools)
        for slot in range(LIST_LENGTH):
            for u in order.tolist():
                pool = pools[u]
                p = first_free(pool, next_at[u], full)
                if p < len(pool):
                    item = pool[p]
                    lists[u, slot] = item
                    self.count[item] += 1
                    full[item] = self.count[item] >= cap
                next_at[u] = p + 1
        return lists

    def __call__(self, scores: torch.Tensor, allowed: torch.Tensor, batch: UserBatch):
        lists = self.planned(batch, scores.device)
        short = ((lists < 0).any(dim=1) & (allowed.sum(dim=1) > (lists > 0).sum(dim=1))).nonzero()
        for r in short.flatten().tolist():  # pool ran out: fill from every candidate
            lists[r] = self.fill(scores[r], allowed[r], lists[r])
        return lift(scores, lists)

    def fill(self, row: torch.Tensor, allowed: torch.Tensor, listed: torch.Tensor):
        cap, out = int(self.value), listed.clone()
        order = torch.argsort(torch.where(allowed, row.double(), -torch.inf), descending=True)
        have = set(listed[listed > 0].tolist())
        for slot in (listed < 0).nonzero().flatten().tolist():
            for item in order.tolist():
                if allowed[item] and item not in have and self.count[item] < cap:
                    out[slot], have = item, have | {item}
                    self.count[item] += 1
                    break
            else:
                log.warning("exposure-cap: a list left short: every candidate is at the cap")
                break
        return out


@register_reranker("coverage-fill")
class CoverageFill(RoundRobin):
    """Each user's top K - m kept; the last m slots filled round-robin with the user's best
    pooled item nobody has been shown yet (kept items count as shown); when its pool holds
    none, its best pooled item not yet in its list. Buys catalogue coverage, not an even
    spread: the kept slots still go to the same items."""

    strength = Strength(
        "m",
        0,
        LIST_LENGTH,
        (0, 1, 2, 3, 5),
        integer=True,
        meaning="slots at the end of each list given to items nobody has been shown",
    )

    def __init__(self, strength: float, popularity: np.ndarray, seed: int = 0) -> None:
        super().__init__(strength, popularity, seed)
        self.pool = POOL if self.value else 0  # m = 0: the model's own lists

    def assign(self, pools: list[np.ndarray], order: np.ndarray) -> np.ndarray:
        keep = LIST_LENGTH - int(self.value)
        lists = np.full((len(pools), LIST_LENGTH), -1, dtype=np.int64)
        shown = np.zeros(len(self.popularity), dtype=bool)
        for u, pool in enumerate(pools):
            lists[u, : min(keep, len(pool))] = pool[:keep]
            shown[pool[:keep]] = True
        next_at = [keep] * len(pools)
        for slot in range(keep, LIST_LENGTH):
            for u in order.tolist():
                pool = pools[u]
                p = first_free(pool, next_at[u], shown)
                if p < len(pool):
                    lists[u, slot], shown[pool[p]] = pool[p], True
                    next_at[u] = p + 1
                else:  # nothing unshown left in the pool: the best pooled item not yet listed
                    spare = np.setdiff1d(pool[keep:], lists[u, :slot], assume_unique=True)
                    if len(spare):
                        lists[u, slot] = pool[keep:][np.isin(pool[keep:], spare)][0]
        return lists

    def __call__(self, scores: torch.Tensor, allowed: torch.Tensor, batch: UserBatch):
        if self.value == 0:
            return scores
        return lift(scores, self.planned(batch, scores.device))
