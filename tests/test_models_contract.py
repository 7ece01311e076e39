"""The contract, checked for every registered model: shape, finiteness, batch = per-user,
determinism, and a planted signal every model must find."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import synthetic_world

from benchmark.models import create_model, get_model_class, list_models
from protocols.evaluate import rank_targets
from protocols.metrics import summarise
from protocols.negatives import draw_candidates
from protocols.sequences import last_items
from protocols.types import UserBatch

FAST = {  # smaller settings so the whole contract suite runs in seconds
    "mf-als": {"iterations": 5},
    "mf-bpr": {"iterations": 20},
    # gBCE divides by k + 1 = 257: the same 8 epochs need a larger step to move as far
    "gsasrec": {"lr": 1e-2},
}


@pytest.fixture(scope="module")
def world():
    return synthetic_world(
        n_users=400, n_items=150, n_clusters=10, mean_length=30, stay_probability=0.8, seed=1
    )


def _fast(name):
    if get_model_class(name).uses_seq_len:  # the deep models
        return {"epochs": 8, "emb_dim": 32, "lr": 3e-3, **FAST.get(name, {})}
    return FAST.get(name, {})


def _fitted(name, fit_data):
    return create_model(name, **_fast(name)).fit(fit_data)


@pytest.fixture(scope="module")
def fitted(world):
    """Each model fitted once for the whole module (the determinism test fits a second one)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = _fitted(name, world[2])
        return cache[name]

    return get


def _batch(split, rows, seq_len=10):
    inputs = split.test.inputs.take(rows)
    return UserBatch(
        split.test.users[rows],
        torch.from_numpy(last_items(inputs, seq_len)),
        inputs.to_csr(split.n_items + 1),
    )


@pytest.mark.parametrize("name", list_models())
def test_scores_have_the_contract_shape(name, world, fitted):
    data, split, fit_data = world
    model = fitted(name)
    scores = model.score(_batch(split, np.arange(17)))
    assert isinstance(scores, torch.Tensor) and scores.is_floating_point()
    assert tuple(scores.shape) == (17, data.n_items + 1)
    assert torch.isfinite(scores[:, 1:]).all()


@pytest.mark.parametrize("name", list_models())
def test_batch_scores_equal_per_user_scores(name, world, fitted):
    data, split, fit_data = world
    model = fitted(name)
    rows = np.arange(12)
    together = model.score(_batch(split, rows))
    alone = torch.cat([model.score(_batch(split, rows[[k]])) for k in range(len(rows))])
    torch.testing.assert_close(together[:, 1:], alone[:, 1:], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list_models())
def test_same_seed_same_scores(name, world, fitted):
    data, split, fit_data = world
    batch = _batch(split, np.arange(10))
    first = fitted(name).score(batch)
    second = _fitted(name, fit_data).score(batch)
    torch.testing.assert_close(first[:, 1:], second[:, 1:], rtol=0, atol=0)


@pytest.mark.parametrize("name", list_models())
def test_every_model_finds_the_planted_signal(name, world, fitted):
    # synthetic data has Zipf popularity and cluster structure; a random ranking of
    # 1 target among 51 candidates has HR@10 = 10/51, about 0.196
    data, split, fit_data = world
    model = fitted(name)
    negatives = draw_candidates(data, split, 50, "uniform", seed=0)
    ranks = rank_targets(model, split.valid, data.n_items, 10, negatives["valid"])
    assert summarise(ranks.sampled, (10,))["HR@10"] > 0.3


@pytest.mark.parametrize("name", list_models())
def test_params_are_frozen_dataclasses_with_defaults(name):
    model = create_model(name)
    assert dataclasses.is_dataclass(model.params)
    for f in dataclasses.fields(model.params):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(model.params, f.name, None)
    assert not [k for k in vars(model) if k.endswith("_")], "fitted state before fit()"


@pytest.mark.parametrize("name", list_models())
def test_a_saved_model_scores_exactly_like_the_fitted_one(name, world, fitted):
    from benchmark.config import DataConfig, RunConfig
    from benchmark.executors import model_from_bytes, model_to_bytes
    from benchmark.models import model_config

    _, split, fit_data = world
    model = fitted(name)
    config = RunConfig(
        DataConfig("synthetic", fingerprint="f"), model=model_config(name, _fast(name))
    )
    blob = model_to_bytes(model, config)
    assert blob is not None, f"{name} has no plain fitted state: re-ranked runs would refit it"
    batch = _batch(split, np.arange(23))
    assert torch.equal(model.score(batch), model_from_bytes(blob, config).score(batch))
