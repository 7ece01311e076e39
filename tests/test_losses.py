"""The loss registry: every loss trains, bad names and sizes are refused, a plugin can add
one, and the sampled softmax's logQ correction estimates the full partition function."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import synthetic_world
from torch import nn

from benchmark.models import create_model
from protocols.errors import InputError
from seqmodels.base import TrainParams
from seqmodels.losses import (
    LOSSES,
    SampledSoftmax,
    create_loss,
    list_losses,
    register_loss,
)

QUICK = {"epochs": 3, "emb_dim": 16, "lr": 1e-2}


@pytest.fixture(scope="module")
def fit_data():
    return synthetic_world(
        n_users=200, n_items=120, n_clusters=10, mean_length=20, stay_probability=0.7, seed=3
    )[2]


def test_the_built_in_losses_are_registered():
    assert {"ce", "bce", "sampled-ce", "gbce"} <= set(list_losses())


@pytest.mark.parametrize("loss", ["ce", "bce", "sampled-ce", "gbce", "sampled-ce-position"])
def test_every_loss_trains_and_falls(loss, fit_data):
    # six epochs: on this data, with popularity-drawn negatives, the sampled softmax's loss
    # can rise for two or three epochs before it falls
    params = {**QUICK, "epochs": 6, "loss": loss, "negatives": 16, "neg_ratio": 4}
    params["sampler"] = "popularity"
    history = create_model("gru", **params).fit(fit_data).training_["history"]
    assert history[-1]["loss"] < history[0]["loss"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loss": "sampled_ce"}, "did you mean 'sampled-ce'"),
        ({"loss": "sampled-ce", "negatives": 0}, "negatives must be >= 1"),
        ({"loss": "sampled-ce", "sampler": "zipf"}, "sampler"),
        ({"loss": "gbce", "gbce_t": 2.0}, "gbce_t"),
        ({"loss": "bce", "neg_ratio": 0}, "neg_ratio"),
    ],
)
def test_bad_loss_settings_are_one_line_input_errors(overrides, message, fit_data):
    with pytest.raises(InputError, match=message) as error:
        create_model("gru", **QUICK, **overrides).fit(fit_data)
    assert "\n" not in str(error.value)


def test_a_model_refuses_a_loss_it_cannot_use(fit_data):
    with pytest.raises(InputError, match="model .bert4rec.: cannot train with --loss bce"):
        create_model("bert4rec", **QUICK, loss="bce").fit(fit_data)


def test_a_plugin_loss_is_one_class_and_one_decorator(fit_data):
    calls = []

    @register_loss("test-hinge")
    class Hinge:
        def __init__(self, params, n_items, popularity):
            self.n_items = n_items

        def __call__(self, net, states, positives):
            calls.append(len(positives))
            negatives = torch.randint(1, self.n_items + 1, positives.shape)
            pos = (states * net.items(positives)).sum(-1)
            neg = (states * net.items(negatives)).sum(-1)
            return F.relu(1 - pos + neg).mean()

    try:
        with pytest.raises(ValueError, match="already registered"):
            register_loss("test-hinge")(Hinge)
        model = create_model("sasrec", **QUICK, loss="test-hinge").fit(fit_data)
        assert calls and model.training_["best_valid_NDCG@10"] > 0
    finally:
        del LOSSES.entries["test-hinge"]


def _sampler(n_items, sampler, k, popularity):
    params = dataclasses.replace(TrainParams(), negatives=k, sampler=sampler)
    return create_loss("sampled-ce", params, n_items, popularity)


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_logq_corrected_sample_estimates_the_full_partition_function(sampler):
    # planted scores: a few items score far higher than the rest, popularity follows them
    torch.manual_seed(0)
    n_items, k, draws = 50, 8, 40000
    scores = torch.randn(n_items + 1) * 1.5  # [n_items + 1]
    popularity = np.exp(scores.numpy().astype(np.float64)) * 5
    popularity[0] = 0
    loss = _sampler(n_items, sampler, k, popularity)
    assert isinstance(loss, SampledSoftmax)
    positive = 7
    truth = torch.exp(scores[1:]).sum()  # partition function over every real item
    negatives = torch.stack([loss.draw(torch.device("cpu")) for _ in range(draws)])  # [D, K]
    pos = torch.full((draws,), float(scores[positive]))
    logits = torch.stack(
        [loss.logits(pos[:1], scores[n][None], torch.tensor([positive]), n)[0] for n in negatives]
    )  # [D, 1 + K]
    estimate = torch.exp(logits).sum(dim=1).mean()
    assert abs(float(estimate / truth) - 1) < 0.03
    if sampler == "popularity":  # without the correction the sample is far off
        raw = torch.exp(scores[negatives]).masked_fill(negatives == positive, 0).sum(1)
        uncorrected = (torch.exp(scores[positive]) + raw).mean()
        assert abs(float(uncorrected / truth) - 1) > 0.5


def test_bce_averages_its_negatives_and_gbce_sums_them():
    """As documented: k copies of one negative weigh like that negative once in `bce`, k times
    in `gbce`; at t = 0 and k = 1 gbce is half of bce."""
    pos, neg = torch.tensor([0.3, -1.2]), torch.tensor([[0.5], [2.0]])

    def loss_with(name, k, t=0.0):
        params = dataclasses.replace(TrainParams(), neg_ratio=k, gbce_t=t)
        loss = create_loss(name, params, 100, np.ones(101))
        loss.logits = lambda net, states, positives: (pos, neg.expand(-1, k))
        return float(loss(None, None, None))

    assert loss_with("bce", 4) == pytest.approx(loss_with("bce", 1))
    assert loss_with("gbce", 1) == pytest.approx(loss_with("bce", 1) / 2)  # shift log(1 / 1) = 0
    shift = math.log(1 / 4)  # beta = 1 at t = 0
    sums = (F.softplus(-(pos + shift)) + 4 * F.softplus(neg[:, 0] + shift)).mean() / 5
    assert loss_with("gbce", 4) == pytest.approx(float(sums))


@pytest.mark.parametrize("t", [0.0, 0.75, 1.0])
def test_gbce_is_lowest_where_every_item_scores_zero_among_shared_scores(t):
    """The shift puts the optimum of one score shared by every item at 0, where training starts,
    so no steps are spent walking there (gSASRec's plateau)."""
    k = 256
    params = dataclasses.replace(TrainParams(), neg_ratio=k, gbce_t=t)
    loss = create_loss("gbce", params, 3000, np.ones(3001))

    def shared(score: float) -> float:
        loss.logits = lambda net, states, positives: (
            torch.full((1,), score),
            torch.full((1, k), score),
        )
        return float(loss(None, None, None))

    grid = [-1.0, -0.1, 0.0, 0.1, 1.0]
    assert min(grid, key=shared) == 0.0
    unshifted_optimum = loss.shift
    assert unshifted_optimum < -4  # what the weights had to reach without it


def test_sampled_softmax_with_the_whole_catalogue_once_is_the_full_softmax():
    # hand-computed case: q uniform and K = n draws; E[count] = 1 for each item, so with a
    # sample holding every item once the corrected logits are the full logits exactly
    n_items = 6
    loss = _sampler(n_items, "uniform", n_items, np.ones(n_items + 1))
    scores = torch.tensor([0.0, 1.0, -2.0, 0.5, 3.0, 0.0, 1.5])
    negatives = torch.arange(1, n_items + 1)
    logits = loss.logits(scores[[4]], scores[negatives][None], torch.tensor([4]), negatives)
    sampled = F.cross_entropy(logits, torch.tensor([0]))
    full = F.cross_entropy(scores[1:][None], torch.tensor([3]))
    torch.testing.assert_close(sampled, full)


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_per_position_negatives_are_the_shared_loss_row_by_row(sampler):
    """`sampled-ce-position` with every row drawing the same set is `sampled-ce` with that set
    (the same logQ correction; a negative that is the row's own positive left out), and its
    rows draw their own negatives from q, never the padding."""
    torch.manual_seed(4)
    n_items, d, k = 9, 4, 5
    popularity = np.arange(n_items + 1, dtype=float)
    params = dataclasses.replace(TrainParams(), negatives=k, sampler=sampler)
    shared = create_loss("sampled-ce", params, n_items, popularity)
    per_row = create_loss("sampled-ce-position", params, n_items, popularity)
    net = nn.Module()
    net.items = nn.Embedding(n_items + 1, d)
    net.item_scores = lambda states: states @ net.items.weight.T
    states, positives = torch.randn(6, d), torch.tensor([1, 3, 5, 2, 9, 3])
    drawn = torch.tensor([3, 7, 7, 1, 9])  # holds the positives of four rows
    shared.draw = lambda device: drawn
    per_row.draw_per_row = lambda rows, device: drawn.expand(rows, -1)
    torch.testing.assert_close(per_row(net, states, positives), shared(net, states, positives))

    rows = create_loss("sampled-ce-position", params, n_items, popularity).draw_per_row(
        2000, torch.device("cpu")
    )
    assert rows.shape == (2000, k) and int(rows.min()) >= 1 and int(rows.max()) <= n_items
    assert len({tuple(r) for r in rows.tolist()}) > 1000  # each row its own draw


def test_the_selected_loss_module_counts_in_the_code_fingerprint(monkeypatch):
    # a loss outside seqmodels.losses (this one, or a plugin's) is code the run depends on
    import inspect

    import seqmodels.per_position
    from benchmark import models

    own = models.model_config("gru", {"loss": "sampled-ce-position"}).code
    shared, default = (models.model_config("gru", {"loss": x}).code for x in ("sampled-ce", "ce"))
    assert own != default and shared == default  # the built-in losses are hashed already
    real = inspect.getsource
    edited = lambda m: real(m) + "# edited" if m is seqmodels.per_position else real(m)  # noqa: E731
    monkeypatch.setattr(inspect, "getsource", edited)
    models._fingerprint.cache_clear()
    try:
        assert models.model_config("gru", {"loss": "sampled-ce-position"}).code != own
        assert models.model_config("gru", {}).code == default
    finally:
        models._fingerprint.cache_clear()


def test_full_softmax_is_over_the_real_items_and_never_the_padding_row():
    # a padding row scoring far above every item would dominate a softmax that counted it
    torch.manual_seed(2)
    n_items, d = 5, 3
    net = nn.Module()
    net.items = nn.Embedding(n_items + 1, d)
    states = torch.randn(4, d)
    with torch.no_grad():
        net.items.weight[0] = states.sum(0) * 100
    positives = torch.tensor([1, 3, 5, 2])
    loss = create_loss("ce", TrainParams(), n_items, np.ones(n_items + 1))
    scores = states @ net.items.weight.T  # [4, n_items + 1]
    by_hand = -(scores.gather(1, positives[:, None])[:, 0] - scores[:, 1:].logsumexp(1)).mean()
    torch.testing.assert_close(loss(net, states, positives), by_hand)
