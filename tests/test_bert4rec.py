"""BERT4Rec's cloze task: what is masked during training and what is scored."""

import torch
from conftest import synthetic_world

from benchmark.models import create_model
from protocols.types import PAD
from seqmodels.bert4rec import MASK, mask_items


def test_masking_never_hides_padding_and_hides_at_least_one_item():
    torch.manual_seed(0)
    lengths = torch.randint(1, 12, (500,))
    positions = torch.arange(12)[None, :]
    sequences = torch.where(positions >= 12 - lengths[:, None], torch.randint(1, 99, (500, 12)), 0)
    for prob in (0.05, 0.2, 1.0):
        masked, hidden = mask_items(sequences, prob)
        pad = sequences == PAD
        assert (masked[pad] == PAD).all() and (hidden[pad] == PAD).all()
        chosen = masked == MASK
        assert torch.equal(chosen, hidden != PAD)  # every hidden item is a target
        assert torch.equal(hidden[chosen], sequences[chosen])
        assert torch.equal(masked[~chosen], sequences[~chosen])
        assert chosen.any(dim=1).all()
    share = (mask_items(sequences, 0.2)[0] == MASK).sum() / (sequences != PAD).sum()
    assert 0.15 < float(share) < 0.3


def test_scoring_predicts_a_mask_appended_after_the_last_item():
    fit = synthetic_world(n_users=100, n_items=60, n_clusters=6, mean_length=12, seed=2)[2]
    model = create_model("bert4rec", epochs=1, emb_dim=16).fit(fit)
    seen = []
    model.net_.encoder.register_forward_hook(lambda m, args, out: seen.append(args[1].clone()))
    sequences = torch.tensor([[0, 0, 5, 9, 12, 40, 3, 7, 8, 11]])
    with torch.no_grad():
        state = model.last_state(sequences)
        states = model._states(torch.cat([sequences, torch.tensor([[MASK]])], dim=1))
    torch.testing.assert_close(state, states[:, -1])
    assert seen[0].shape == (1, 11) and bool(seen[0][0, -1])  # the [MASK] is a real position
    # the appended [MASK] uses the mask embedding, not any item's
    appended = model._states(torch.cat([sequences, torch.tensor([[8]])], dim=1))[:, -1]
    assert not torch.allclose(state, appended)
