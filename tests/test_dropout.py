"""The CPU dropout of the deep models: masks from 16-bit lanes of 64-bit random words."""

import pytest
import torch
from torch import nn

from benchmark.models import create_model, get_model_class, list_models
from seqmodels.base import ItemSequenceNet, SequenceModel
from seqmodels.dropout import LANES, Dropout, dropped_lanes


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_each_lane_drops_its_share(p):
    # a lane drawn from a half-range word (random_() without bounds never sets the top bit)
    # would never drop: its share would be 0 for one lane in four
    torch.manual_seed(0)
    y = Dropout(p)(torch.ones(4 * 250_000))
    dropped = (y == 0).view(-1, 4).float().mean(dim=0)  # [4] per lane of a word
    assert torch.allclose(dropped, torch.full((4,), p), atol=0.005)  # ~ 5 sd


def test_kept_elements_scale_by_the_rounded_keep_share_and_the_gradient_is_the_mask():
    torch.manual_seed(1)
    x = torch.rand(3, 5, 7, requires_grad=True)  # 105 elements: not a multiple of four
    y = Dropout(0.3)(x)
    scale = LANES / (LANES - dropped_lanes(0.3))
    kept = y != 0
    assert 0 < kept.sum() < x.numel()
    torch.testing.assert_close(y[kept], x[kept] * scale)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() * scale)


def test_p_rounds_to_the_lane_grid():
    assert dropped_lanes(0.5) == LANES // 2
    assert dropped_lanes(0.2) == 13107
    assert dropped_lanes(0.999999999) == LANES - 1  # never every element


def test_eval_mode_and_zero_p_return_the_input_and_a_seed_repeats_the_mask():
    x = torch.rand(64, 8)
    assert Dropout(0.0)(x) is x
    assert Dropout(0.5).eval()(x) is x
    draws = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        draws.append(Dropout(0.5)(x))
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])


DEEP = [n for n in list_models() if issubclass(get_model_class(n), SequenceModel)]


@pytest.mark.parametrize("name", DEEP)
def test_no_plain_torch_dropout_is_left_in_a_deep_net(name):
    model = create_model(name)
    net = ItemSequenceNet(30, model.params, model.build_encoder(30, 10))
    kinds = {type(m) for m in net.modules() if isinstance(m, nn.Dropout)}
    assert kinds == {Dropout}
