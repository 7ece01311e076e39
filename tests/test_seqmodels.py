"""The sequence models and their one trainer, on synthetic data (seconds each)."""

import dataclasses

import pytest
import torch
from conftest import synthetic_world
from torch import nn

from baselines.popularity import Popularity
from benchmark.models import create_model, get_model_class, list_models
from protocols.errors import TrainingError
from protocols.evaluate import rank_targets
from protocols.metrics import ndcg
from protocols.sequences import last_items
from protocols.types import FitData
from seqmodels.base import SequenceModel, TrainParams

DEEP = ["mlp", "cnn", "gru", "sasrec", "narm"]
CAUSAL = [
    name for name in list_models() if get_model_class(name).uses_seq_len and name != "bert4rec"
]
QUICK = {"epochs": 6, "emb_dim": 32, "lr": 3e-3, "patience": 6}
QUICK_BATCH = 32


@pytest.fixture(scope="module")
def fit_data():
    # users mostly stay in their item cluster or move to the next: the recent items tell
    return synthetic_world(
        n_users=500, n_items=200, n_clusters=20, mean_length=30, stay_probability=0.6, seed=5
    )[2]


def _valid_ndcg(model, data: FitData) -> float:
    ranks = rank_targets(model, data.valid, data.n_items, data.seq_len)
    return float(ndcg(ranks.full, 10).mean())


@pytest.mark.parametrize("name", DEEP)
def test_every_model_learns_the_sequence_and_its_loss_falls(name, fit_data):
    model = create_model(name, **QUICK).fit(fit_data)
    history = model.training_["history"]
    pop = _valid_ndcg(Popularity().fit(fit_data), fit_data)
    assert model.training_["best_valid_NDCG@10"] > 1.5 * pop
    assert history[-1]["loss"] < history[0]["loss"]


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_both_losses_train(loss, fit_data):
    model = create_model("gru", **{**QUICK, "loss": loss, "neg_ratio": 4}).fit(fit_data)
    pop = _valid_ndcg(Popularity().fit(fit_data), fit_data)
    assert model.training_["best_valid_NDCG@10"] > 1.2 * pop


def test_the_best_epoch_is_the_one_evaluated(fit_data):
    # a learning rate this high makes validation jump around, so the last epoch is rarely best
    model = create_model("gru", epochs=8, lr=0.05, patience=3, patience_steps=0, emb_dim=16)
    report = model.fit(fit_data).training_
    best = max(h["valid_NDCG@10"] for h in report["history"])
    assert report["best_valid_NDCG@10"] == best
    assert report["history"][report["best_epoch"] - 1]["valid_NDCG@10"] == best
    assert _valid_ndcg(model, fit_data) == pytest.approx(best, abs=1e-12)
    # deterministic on CPU: validation peaks at epoch 3 (NDCG@10 0.474) and patience stops
    # training at 6 (0.449), so the evaluated weights are the restored ones, not the last
    assert report["best_epoch"] < len(report["history"])
    assert report["history"][-1]["valid_NDCG@10"] < best


def test_early_stopping_waits_for_patience(fit_data):
    model = create_model("gru", epochs=50, lr=0.05, patience=2, patience_steps=0, emb_dim=16)
    report = model.fit(fit_data).training_
    assert len(report["history"]) - report["best_epoch"] <= 2
    assert len(report["history"]) < 50 or report["best_epoch"] >= 48


def test_patience_lasts_at_least_its_steps_on_a_small_data_set(fit_data):
    from protocols.sequences import training_windows
    from seqmodels.train import batches_per_epoch, patience_epochs

    windows = len(training_windows(fit_data.train, fit_data.seq_len, True)[0])
    per_epoch = batches_per_epoch(windows, 128)
    steps = TrainParams(patience=1, patience_steps=3 * per_epoch)
    assert patience_epochs(steps, windows) == 3  # three epochs' steps, not one epoch
    assert patience_epochs(dataclasses.replace(steps, patience=5), windows) == 5
    assert patience_epochs(dataclasses.replace(steps, patience_steps=0), windows) == 1
    model = create_model("gru", epochs=12, lr=0.05, patience=1, patience_steps=3 * per_epoch)
    report = model.fit(fit_data).training_
    # stopped three epochs after its best one (or ran to the cap), where one epoch's patience
    # alone stops one epoch after
    assert len(report["history"]) - report["best_epoch"] == 3 or len(report["history"]) == 12


@pytest.mark.parametrize("name", DEEP)
def test_same_seed_same_metrics_on_cpu(name, fit_data):
    first = create_model(name, **{**QUICK, "epochs": 2}).fit(fit_data)
    second = create_model(name, **{**QUICK, "epochs": 2}).fit(fit_data)
    assert [h["loss"] for h in first.training_["history"]] == [
        h["loss"] for h in second.training_["history"]
    ]
    assert _valid_ndcg(first, fit_data) == _valid_ndcg(second, fit_data)


def test_training_leaves_the_global_random_state_alone(fit_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    create_model("cnn", **{**QUICK, "epochs": 1}).fit(fit_data)
    assert torch.equal(torch.rand(3), expected)


class _NaNEncoder(nn.Module):
    def forward(self, embedded, present):
        return embedded * float("nan")


class _Exploding(SequenceModel):
    Params = TrainParams
    name = "exploding"

    def build_encoder(self, n_items, seq_len):
        return _NaNEncoder()


def test_nan_loss_stops_with_model_and_epoch(fit_data):
    with pytest.raises(TrainingError, match="exploding: training loss is nan at epoch 1"):
        _Exploding(TrainParams(epochs=3)).fit(fit_data)


def test_impossible_parameters_are_refused(fit_data):
    from protocols.errors import InputError

    with pytest.raises(InputError, match="loss"):
        create_model("gru", loss="hinge").fit(fit_data)
    with pytest.raises(InputError, match="neg_ratio"):
        create_model("gru", neg_ratio=0).fit(fit_data)


@pytest.mark.parametrize("name", DEEP)
def test_padding_never_changes_a_user_state(name, fit_data):
    # the same four items behind 6 or 3 padding slots give the same state
    model = create_model(name, **{**QUICK, "epochs": 1}).fit(fit_data)
    model.net_.eval()
    with torch.no_grad():
        long = model.net_(torch.tensor([[0, 0, 0, 0, 0, 0, 5, 9, 12, 40]]))[0, -1]
        short = model.net_(torch.tensor([[0, 0, 0, 5, 9, 12, 40]]))[0, -1]
    torch.testing.assert_close(long, short, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CAUSAL)
def test_no_state_reads_a_later_item(name, fit_data):
    # every position trains on its next item: a state that saw it would learn to copy it
    model = create_model(name, **{**QUICK, "epochs": 1}).fit(fit_data)
    model.net_.eval()
    with torch.no_grad():
        # the real positions 2 to 4 (the padding slots' states are never used)
        one = model.net_(torch.tensor([[0, 0, 5, 9, 12, 40, 7, 3]]))[0, 2:5]
        other = model.net_(torch.tensor([[0, 0, 5, 9, 12, 88, 150, 61]]))[0, 2:5]
    torch.testing.assert_close(one, other, rtol=1e-5, atol=1e-5)


def test_without_validation_users_the_last_epoch_is_kept(fit_data):
    import dataclasses

    import numpy as np

    from protocols.types import EvalSet, Histories

    empty = np.zeros(0, dtype=np.int64)
    no_valid = EvalSet(
        empty,
        Histories(np.zeros(1, dtype=np.int64), empty, empty),
        np.zeros((0, 1), dtype=np.int64),
    )
    data = dataclasses.replace(fit_data, valid=no_valid)
    model = create_model("gru", **{**QUICK, "epochs": 3, "patience": 1}).fit(data)
    assert model.training_["best_epoch"] == len(model.training_["history"]) == 3


def test_length_batches_cover_every_training_position_once():
    from protocols.sequences import training_windows
    from seqmodels.train import length_batches

    data = synthetic_world(n_users=300, n_items=80, mean_length=15, seed=4)[2]
    inputs, targets = (torch.from_numpy(a) for a in training_windows(data.train, 10))
    lengths = (inputs != 0).sum(dim=1)
    torch.manual_seed(0)
    batches = length_batches(lengths, batch_size=16, chunk=4)
    covered = torch.zeros_like(targets)
    for rows, width in batches:
        assert len(rows) <= 16 and width == int(lengths[rows].max())
        trimmed = targets[rows, -width:]
        assert (targets[rows, :-width] == 0).all()  # nothing real is cut off
        covered[rows, -width:] += (trimmed != 0).long()
    assert torch.equal(covered, (targets != 0).long())  # each real position exactly once
    spread = [int(lengths[rows].max() - lengths[rows].min()) for rows, _ in batches]
    assert sum(spread) / len(spread) < 0.5 * float(lengths.max() - lengths.min())


@pytest.mark.parametrize(("rows", "batch_size", "chunk"), [(1, 16, 4), (64, 16, 4), (1000, 16, 4)])
def test_batches_per_epoch_counts_what_length_batches_cuts(rows, batch_size, chunk):
    from seqmodels.train import batches_per_epoch, length_batches

    lengths = torch.randint(1, 10, (rows,))
    assert batches_per_epoch(rows, batch_size, chunk) == len(
        length_batches(lengths, batch_size, chunk)
    )


def test_a_linear_schedule_ends_annealed_and_constant_changes_nothing(fit_data):
    from seqmodels import train as trainer

    rates = []

    def record(optimiser, p, steps):
        rates.append((optimiser, steps))
        return real(optimiser, p, steps)

    real = trainer.lr_schedule
    trainer.lr_schedule = record
    try:
        linear = create_model("gru", **{**QUICK, "epochs": 2, "lr_schedule": "linear"})
        linear.fit(fit_data)
        optimiser, steps = rates[-1]
        assert optimiser.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # all steps taken
        assert steps > 2
        constant = create_model("gru", **{**QUICK, "epochs": 2}).fit(fit_data)
        assert rates[-1][0].param_groups[0]["lr"] == constant.params.lr
    finally:
        trainer.lr_schedule = real
    same = create_model("gru", **{**QUICK, "epochs": 2}).fit(fit_data)
    assert [h["loss"] for h in same.training_["history"]] == [
        h["loss"] for h in constant.training_["history"]
    ]
    assert [h["loss"] for h in linear.training_["history"]] != [
        h["loss"] for h in constant.training_["history"]
    ]


def test_max_steps_cuts_the_last_epoch_short_and_never_trains_past_the_budget(fit_data):
    from protocols.sequences import training_windows
    from seqmodels.train import batches_per_epoch

    windows = len(training_windows(fit_data.train, 10)[0])
    per_epoch = batches_per_epoch(windows, QUICK_BATCH)
    steps = []
    model = create_model(
        "gru", **{**QUICK, "epochs": 5, "batch_size": QUICK_BATCH, "max_steps": per_epoch + 1}
    )
    model.set_epoch_hooks((lambda m, entry: steps.append(entry["epoch"]),))
    model.fit(fit_data)
    assert per_epoch > 1 and steps == [1, 2]  # a second epoch of one step, then the budget ends
    same = create_model("gru", **{**QUICK, "epochs": 2, "batch_size": QUICK_BATCH}).fit(fit_data)
    unlimited = create_model(
        "gru", **{**QUICK, "epochs": 2, "batch_size": QUICK_BATCH, "max_steps": 10 * per_epoch}
    ).fit(fit_data)
    assert [h["loss"] for h in same.training_["history"]] == [
        h["loss"] for h in unlimited.training_["history"]
    ]  # a budget the epochs never reach changes nothing


def test_max_seconds_starts_no_epoch_that_would_end_past_the_budget(fit_data):
    from seqmodels.train import out_of_time

    epoch = {"train_seconds": 3.0, "valid_seconds": 1.0}
    assert not out_of_time([epoch], 0.0)  # 0: no limit
    assert not out_of_time([epoch], 8.0)  # a second epoch ends at 8 s
    assert out_of_time([epoch], 7.9)
    assert out_of_time([epoch, epoch], 11.0) and not out_of_time([epoch, epoch], 12.0)
    quick = {**QUICK, "epochs": 3, "batch_size": QUICK_BATCH}
    first_only = create_model("gru", **quick, max_seconds=1e-9).fit(fit_data)
    assert len(first_only.training_["history"]) == 1  # the first epoch always runs
    ample = create_model("gru", **quick, max_seconds=1e9).fit(fit_data)
    plain = create_model("gru", **quick).fit(fit_data)
    assert [h["loss"] for h in ample.training_["history"]] == [
        h["loss"] for h in plain.training_["history"]
    ]  # a budget never reached changes nothing


def test_every_position_weighs_the_same_however_the_batches_are_grouped(fit_data):
    # the summed gradient of an epoch (no steps taken) is the same for length-grouped and
    # random batches: a batch of short windows counts for no more than its positions
    import numpy as np

    from protocols.sequences import training_windows
    from seqmodels.losses import create_loss
    from seqmodels.train import _epoch, length_batches

    model = create_model("gru", **{**QUICK, "epochs": 1, "dropout": 0.0}).fit(fit_data)
    inputs, targets = (torch.from_numpy(a) for a in training_windows(fit_data.train, 10))
    lengths = (inputs != 0).sum(dim=1)
    loss = create_loss("ce", model.params, fit_data.n_items, np.ones(fit_data.n_items + 1))

    class Accumulate:  # keeps every batch's gradient: no step, no reset
        def zero_grad(self, set_to_none=True):
            pass

        def step(self):
            pass

    def summed_gradient(batches):
        model.net_.zero_grad(set_to_none=True)
        per_batch = (targets != 0).sum() / len(batches)
        _epoch(model, Accumulate(), None, inputs, targets, batches, per_batch, loss, use_bf16=False)
        return torch.cat([p.grad.flatten() for p in model.net_.parameters()])

    torch.manual_seed(0)
    grouped = length_batches(lengths, batch_size=32, chunk=8)
    mixed = [(rows, 10) for rows in torch.randperm(len(lengths)).split(32)]
    assert len(grouped) == len(mixed)
    spread = [int(lengths[rows].max() - lengths[rows].min()) for rows, _ in grouped]
    assert min(spread) < 3 < max(int(lengths[r].max() - lengths[r].min()) for r, _ in mixed)
    torch.testing.assert_close(
        summed_gradient(grouped), summed_gradient(mixed), rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("name", DEEP)
def test_cutting_a_batch_to_its_longest_row_leaves_the_loss_unchanged(name, fit_data):
    import numpy as np

    from protocols.sequences import training_windows
    from seqmodels.losses import create_loss

    model = create_model(name, **{**QUICK, "epochs": 1}).fit(fit_data)
    model.net_.eval()  # no dropout: the same batch must give the same loss
    inputs, targets = (torch.from_numpy(a) for a in training_windows(fit_data.train, 10))
    short = torch.from_numpy(np.flatnonzero((inputs != 0).sum(1).numpy() < 6)[:32])
    x, y = inputs[short], targets[short]
    width = int((x != 0).sum(1).max())
    loss = create_loss("ce", model.params, fit_data.n_items, np.ones(fit_data.n_items + 1))
    with torch.no_grad():
        full, cut = (
            model.training_loss(x, y, loss),
            model.training_loss(x[:, -width:], y[:, -width:], loss),
        )
    assert width < x.shape[1]
    torch.testing.assert_close(full, cut, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [*DEEP, "bert4rec"])
def test_scores_of_length_grouped_rows_equal_the_padded_ones(name, fit_data, monkeypatch):
    """score() groups rows by length and cuts each group's left padding: same scores as
    running every row at full width, in the caller's row order."""
    from protocols.types import UserBatch
    from seqmodels import base

    model = create_model(name, **{**QUICK, "epochs": 1}).fit(fit_data)
    eval_set = fit_data.valid
    sequences = torch.from_numpy(last_items(eval_set.inputs, fit_data.seq_len))[:50]
    batch = UserBatch(eval_set.users[:50], sequences, None)
    monkeypatch.setattr(base, "SCORE_GROUP", 8)
    grouped = model.score(batch)
    with torch.no_grad():
        padded = model.net_.item_scores(model.last_state(sequences))
    assert (sequences == 0).any()  # there is left padding to cut
    torch.testing.assert_close(grouped, padded, rtol=1e-5, atol=1e-5)
