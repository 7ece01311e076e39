"""Matrix factorisation baselines on `implicit`'s CPU models: ALS (`mf-als`) and BPR (`mf-bpr`).

Only implicit's CPU classes are used, never its "GPU if present" factories, so results do not
depend on the machine. score(u, i) = user_factor(u) . item_factor(i), in float32 (implicit's own
precision) by torch's matrix product, which scores faster than float64 products cast back
(docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from protocols.errors import require
from protocols.interface import Recommender
from protocols.registry import register_model
from protocols.search_space import Float, Int
from protocols.types import FitData, UserBatch


def check_common(p) -> None:
    """The checks both models' parameters share."""
    for name in ("factors", "iterations"):
        require(getattr(p, name) >= 1, f"{name} must be >= 1, got {getattr(p, name)}")
    require(p.num_threads >= 0, f"num_threads must be >= 0 (0: all cores), got {p.num_threads}")
    require(
        0 <= p.regularization < math.inf,
        f"regularization must be finite and >= 0, got {p.regularization}",
    )


class _ImplicitMF(Recommender):
    """Shared fit: build the implicit model, train on the binary training matrix, keep factors."""

    is_baseline = True

    def fit(self, data: FitData) -> _ImplicitMF:
        import threadpoolctl  # a dependency of implicit

        # implicit parallelises over users itself; a multi-threaded BLAS underneath only slows
        # it down (implicit warns about it), so BLAS is held to one thread while it runs. The
        # model class is imported first: its import may load a BLAS the limit must also cover.
        model_class = self._model_class()
        with threadpoolctl.threadpool_limits(1, "blas"):
            model = model_class(**self._model_arguments(), random_state=data.seed)
            model.fit(data.train_matrix(), show_progress=False)  # [n_users, n_items + 1]
        self.model_ = model
        self.item_factors_ = torch.from_numpy(np.asarray(model.item_factors, dtype=np.float32))
        return self

    @abstractmethod
    def _model_class(self) -> type:
        """The implicit CPU model class (imported here, so `implicit` loads only when used)."""

    @abstractmethod
    def _model_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the model class, from the params."""

    @abstractmethod
    def _user_factors(self, batch: UserBatch) -> np.ndarray:
        """User vectors [B, d] of the batch."""

    def score(self, batch: UserBatch) -> torch.Tensor:
        users = torch.from_numpy(self._user_factors(batch))  # [B, d]
        return users @ self.item_factors_.T  # [B, n+1]

    def fitted_state(self) -> dict:
        """implicit's model is kept as its two factor matrices."""
        m = self.model_
        arrays = {"user": np.asarray(m.user_factors), "item": np.asarray(m.item_factors)}
        return {"factors": {k: torch.from_numpy(a) for k, a in arrays.items()}}

    def load_fitted_state(self, state: dict) -> None:
        """implicit's model rebuilt with the same arguments, its factors set."""
        model = self._model_class()(**self._model_arguments())
        model.user_factors = state["factors"]["user"].numpy()
        model.item_factors = state["factors"]["item"].numpy()
        self.model_ = model
        self.item_factors_ = torch.from_numpy(np.asarray(model.item_factors, dtype=np.float32))


@register_model("mf-als")
class ALS(_ImplicitMF):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via `implicit.cpu.als`.

    At scoring time each user's vector is solved afresh (exact least squares against the trained
    item factors) from `batch.history`, so the test input's validation item counts although
    the model is not refit. Each user is solved independently: batch scores equal per-user scores.
    `UserSolver` does it (float64; implicit's recalculate_user gives the same vectors to float32
    rounding but factorises a d x d system per user: at 238 factors on Beauty its scoring took
    17-18 s against a 4 s fit; docs/performance.md).
    """

    display_order = 40

    @dataclasses.dataclass(frozen=True)
    class Params:
        factors: int = 64
        """Latent dimensions."""
        regularization: float = 10.0
        """L2 weight, added unscaled to every user's and item's normal equations; 10 was best on
        MovieLens validation (0.01-1 score alike). Too strong for tiny data: factors shrink to 0."""
        alpha: float = 2.0
        """Confidence of an observed interaction as `implicit` defines it: c = alpha
        (unobserved: c = 1). Hu et al.'s c = 1 + a is alpha = 1 + a; below 1 an observed cell
        weighs less than an unobserved one."""
        iterations: int = 15
        """Alternating sweeps over users and items."""
        num_threads: int = 0
        """Threads for fitting (0 = all cores); each user/item solve is independent, so any count
        gives the same factors."""

        def __post_init__(self) -> None:
            check_common(self)
            require(
                0 < self.alpha < math.inf, f"alpha must be positive and finite, got {self.alpha}"
            )

    search_space = {
        "factors": Int(16, 256, log=True),
        "regularization": Float(1e-2, 100.0, log=True),
        "alpha": Float(0.1, 50.0, log=True),
        "iterations": Int(5, 30),
    }

    def _model_class(self) -> type:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares

    def _model_arguments(self) -> dict[str, Any]:
        # implicit scales an entry to alpha * value and uses that product as its confidence.
        return dataclasses.asdict(self.params)

    def fit(self, data: FitData) -> ALS:
        super().fit(data)
        self.solver_ = UserSolver(self.model_.item_factors, self.params)
        return self

    def load_fitted_state(self, state: dict) -> None:
        super().load_fitted_state(state)
        self.solver_ = UserSolver(self.model_.item_factors, self.params)

    def _user_factors(self, batch: UserBatch) -> np.ndarray:
        return self.solver_(sp.csr_matrix(batch.history))  # [B, d]


class UserSolver:
    """The user vector ALS's own least squares gives a history, for many users at once.

    With Y the item factors, M = Y'Y + regularization I and U the rows of Y a user has seen, each
    with confidence alpha, the user's vector x solves (M + (alpha - 1) U'U) x = alpha U'1.
    For a history of n <= d items the Woodbury identity turns that d x d system into an n x n
    one: x = Z_u' t with Z = Y M^-1 (computed once) and (I + (alpha - 1) U Z_u') t = alpha 1, so
    a user costs n^2 d instead of d^3. Longer histories solve the d x d system itself. Users are
    taken in order of history length so that a chunk pads little. Every system is symmetric
    positive definite (alpha > 0), so it is solved through its Cholesky factor: torch's batched
    LU (`linalg.solve`) calls MKL from several threads at once, which with more than one thread
    fails or hangs (pytorch/pytorch#141358).
    """

    ELEMENTS = 1 << 23  # float64s of a chunk's largest array (b * n * max(n, d); 64 MB)

    def __init__(self, item_factors: np.ndarray, params: Any) -> None:
        self.items = torch.from_numpy(np.asarray(item_factors, dtype=np.float64))  # [n+1, d]
        d = self.items.shape[1]
        self.gram = self.items.T @ self.items + params.regularization * torch.eye(d).double()
        self.solved_items = spd_solve(self.gram, self.items.T).T  # Z [n+1, d]
        self.alpha = params.alpha

    def __call__(self, history: sp.csr_matrix) -> np.ndarray:
        lengths = np.diff(history.indptr)
        d = self.items.shape[1]
        users = torch.zeros(len(lengths), d, dtype=torch.float64)
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):  # chunks of users, shortest histories first
            stop = start + 1
            while stop < len(order):
                n = int(lengths[order[stop]])
                if (stop - start + 1) * n * max(n, d) > self.ELEMENTS:
                    break
                stop += 1
            rows = order[start:stop]
            start = stop
            n = int(lengths[rows[-1]])
            if n > 0:
                users[torch.from_numpy(rows)] = self._solve(history, rows, lengths[rows], n)
        return users.numpy().astype(np.float32)

    def _solve(self, history: sp.csr_matrix, rows: np.ndarray, lengths: np.ndarray, n: int):
        """User vectors [b, d] of the given rows, their histories padded to n items."""
        seen = np.zeros((len(rows), n), dtype=np.int64)  # padding: item 0, masked out
        for j, row in enumerate(rows):
            seen[j, : lengths[j]] = history.indices[history.indptr[row] : history.indptr[row + 1]]
        seen = torch.from_numpy(seen)
        mask = torch.from_numpy(np.arange(n) < lengths[:, None]).double()[..., None]  # [b, n, 1]
        factors = self.items[seen] * mask  # U [b, n, d]
        if n <= factors.shape[2]:
            solved = self.solved_items[seen] * mask  # Z_u [b, n, d]
            eye = torch.eye(n, dtype=torch.float64)
            system = eye + (self.alpha - 1.0) * (factors @ solved.transpose(1, 2))  # [b, n, n]
            weights = spd_solve(system, self.alpha * mask)  # t [b, n, 1]
            return (solved.transpose(1, 2) @ weights)[..., 0]
        system = self.gram + (self.alpha - 1.0) * (factors.transpose(1, 2) @ factors)  # [b, d, d]
        target = self.alpha * factors.sum(1)[..., None]  # [b, d, 1]
        return spd_solve(system, target)[..., 0]


def spd_solve(system: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """x with system @ x = rhs, for symmetric positive definite systems (batched or not)."""
    return torch.cholesky_solve(rhs, torch.linalg.cholesky(system))


@register_model("mf-bpr")
class BPR(_ImplicitMF):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via `implicit.cpu.bpr` (SGD).

    Scores use the user vectors learned from the training data: BPR has no closed-form way to fold
    in a new history, so the validation item in the test input is NOT used by this model (it only
    removes that item from the candidates). implicit's BPR updates factors Hogwild-style in
    parallel, which makes results vary from run to run with more than one thread; the default
    `num_threads=1` keeps a run reproducible from `data.seed` (about 20 s to fit ML-1M, 100 epochs).
    """

    display_order = 50

    @dataclasses.dataclass(frozen=True)
    class Params:
        factors: int = 64
        """Latent dimensions (implicit adds one more for the item bias)."""
        regularization: float = 0.01
        """L2 weight on the factors."""
        learning_rate: float = 0.01
        """SGD step size."""
        iterations: int = 100
        """Epochs; each draws as many (user, positive, negative) triples as training entries."""
        num_threads: int = 1
        """SGD threads. Keep 1 for reproducible results (more threads race on shared factors)."""

        def __post_init__(self) -> None:
            check_common(self)
            require(
                0 < self.learning_rate < math.inf,
                f"learning_rate must be positive and finite, got {self.learning_rate}",
            )

    search_space = {
        "factors": Int(16, 256, log=True),
        "learning_rate": Float(1e-3, 0.1, log=True),
        "regularization": Float(1e-4, 1.0, log=True),
    }

    def _model_class(self) -> type:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking

    def _model_arguments(self) -> dict[str, Any]:
        # Negatives the user has seen are redrawn (implicit's default, stated to be explicit).
        return {**dataclasses.asdict(self.params), "verify_negative_samples": True}

    def _user_factors(self, batch: UserBatch) -> np.ndarray:
        return np.asarray(self.model_.user_factors, dtype=np.float32)[batch.users]  # [B, d+1]
