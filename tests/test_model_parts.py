"""The pieces the newer sequence models are built from, each on a hand-made case: the
augmentations, InfoNCE, DuoRec's same-target draws and Caser's convolutions."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import synthetic_world

from benchmark.models import create_model
from protocols.errors import InputError
from protocols.sequences import training_windows
from seqmodels.augment import crop, reorder
from seqmodels.caser import CaserEncoder, CaserParams
from seqmodels.contrastive import info_nce
from seqmodels.duorec import SameTarget

ROWS = torch.tensor([[0, 0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 0, 0, 7], [11, 12, 13, 14, 15, 16, 17]])


@pytest.mark.parametrize("seed", range(5))
def test_crop_keeps_one_run_in_order_at_the_right_end(seed):
    torch.manual_seed(seed)
    out = crop(ROWS, 0.6)
    for row, cropped in zip(ROWS.tolist(), out.tolist(), strict=True):
        items = [i for i in row if i]
        kept = [i for i in cropped if i]
        assert len(kept) == math.ceil(0.6 * len(items))
        assert cropped[-len(kept) :] == kept  # left-padded: items at the right end
        start = items.index(kept[0])
        assert items[start : start + len(kept)] == kept  # one contiguous run, in order


@pytest.mark.parametrize("seed", range(5))
def test_reorder_shuffles_one_run_and_nothing_else(seed):
    torch.manual_seed(seed)
    out = reorder(ROWS, 0.6)
    for row, shuffled in zip(ROWS.tolist(), out.tolist(), strict=True):
        assert sorted(row) == sorted(shuffled)
        assert [i == 0 for i in row] == [i == 0 for i in shuffled]  # padding stays put
        moved = [k for k, (a, b) in enumerate(zip(row, shuffled, strict=True)) if a != b]
        if moved:
            run = math.ceil(0.6 * sum(1 for i in row if i))
            assert moved[-1] - moved[0] < run


def test_info_nce_matches_its_definition_and_skips_same_label_negatives():
    torch.manual_seed(0)
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    views = torch.cat([a, b])
    sim = views @ views.T / 0.5
    expected = 0.0
    for i in range(6):
        others = [j for j in range(6) if j != i]
        partner = (i + 3) % 6
        expected += -(sim[i, partner] - torch.logsumexp(sim[i, others], 0)) / 6
    torch.testing.assert_close(info_nce(a, b, 0.5), expected)
    # rows 0 and 1 share a label: they are no longer each other's negatives
    labels = torch.tensor([7, 7, 9])
    expected = 0.0
    for i in range(6):
        same = {0, 1, 3, 4} if i in (0, 1, 3, 4) else set()
        partner = (i + 3) % 6
        others = [j for j in range(6) if j != i and (j == partner or j not in same)]
        expected += -(sim[i, partner] - torch.logsumexp(sim[i, others], 0)) / 6
    torch.testing.assert_close(info_nce(a, b, 0.5, labels), expected)


def test_same_target_draws_windows_with_that_next_item():
    data = synthetic_world(n_users=120, n_items=30, mean_length=8, seed=2)[2]
    index = SameTarget(data, all_windows=True)
    inputs, targets = training_windows(data.train, data.seq_len)
    windows = {
        (tuple(row), t) for row, t in zip(inputs.tolist(), targets[:, -1].tolist(), strict=True)
    }
    items = torch.from_numpy(np.repeat(np.unique(targets[:, -1]), 5))
    torch.manual_seed(0)
    drawn = index.draw(items)
    assert all(
        (tuple(row), t) in windows for row, t in zip(drawn.tolist(), items.tolist(), strict=True)
    )
    assert len({tuple(row) for row in drawn.tolist()}) > len(np.unique(targets[:, -1]))


def test_caser_states_equal_the_windows_computed_one_by_one():
    torch.manual_seed(0)
    encoder = CaserEncoder(CaserParams(emb_dim=8, dropout=0.0)).eval()
    x, present = torch.randn(3, 7, 8), torch.ones(3, 7, dtype=torch.bool)
    present[0, :3] = False
    states = encoder(x, present)
    padded = F.pad(x * present[..., None], (0, 0, 4, 0))  # L - 1 = 4 zero rows in front
    for b in range(3):
        for t in range(7):
            window = padded[b, t : t + 5]  # [L, d]: the last five embeddings up to t
            w = encoder.vertical.weight[:, 0]  # [n_v, L]
            vertical = w @ window + encoder.vertical.bias[:, None]  # [n_v, d]
            horizontal = [F.relu(conv(window.T[None]))[0].amax(1) for conv in encoder.horizontal]
            joined = torch.cat([vertical.flatten(), *horizontal])
            torch.testing.assert_close(states[b, t], F.relu(encoder.fc(joined)))


def test_caser_with_one_target_trains_on_the_next_item_only():
    data = synthetic_world(n_users=60, n_items=30, mean_length=8, seed=3)[2]
    model = create_model("caser", epochs=1, targets=1, emb_dim=8).fit(data)
    model.net_.eval()
    x, y = (torch.from_numpy(a) for a in training_windows(data.train, data.seq_len))
    states = model.net_(x)
    present = y != 0
    plain = F.cross_entropy(states[present] @ model.net_.items.weight[1:].T, y[present] - 1)
    from seqmodels.losses import create_loss

    loss = create_loss("ce", model.params, data.n_items, np.ones(data.n_items + 1))
    torch.testing.assert_close(model.training_loss(x, y, loss), plain)


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("caser", {"targets": 0}, "targets must be >= 1"),
        ("caser", {"window": 0}, "window must be >= 1"),
        ("duorec", {"temperature": -1.0}, "temperature must be positive"),
        ("duorec", {"cl_weight": -0.1}, "cl_weight must be >= 0"),
        ("cl4srec", {"crop": 1.5}, r"crop must be in \(0, 1\]"),
        ("cl4srec", {"mask": 0.0}, r"mask must be in \(0, 1\]"),
        ("hstu", {"loss": "bce"}, "cannot train with --loss bce"),
        ("esasrec", {"heads": 3}, "must divide by heads"),
    ],
)
def test_impossible_parameters_are_refused(name, params, message):
    with pytest.raises(InputError, match=message):
        create_model(name, **params)
