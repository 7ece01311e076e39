"""The registry: the full list of models, duplicates refused, typos answered with a suggestion."""

import pytest

from baselines.popularity import Popularity
from benchmark.models import (
    UnknownModelError,
    create_model,
    get_model_class,
    list_models,
    register_model,
)

EXPECTED = [
    "bert4rec",
    "caser",
    "cl4srec",
    "cnn",
    "duorec",
    "esasrec",
    "fmlprec",
    "gru",
    "gsasrec",
    "hstu",
    "itemknn",
    "mf-als",
    "mf-bpr",
    "mlp",
    "narm",
    "personal-topk",
    "pop",
    "sasrec",
]


def test_every_model_is_registered():
    assert list_models() == EXPECTED


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("pop")(Popularity)


def test_unknown_name_lists_known_and_suggests():
    with pytest.raises(UnknownModelError) as error:
        create_model("itemnn")
    message = str(error.value)
    assert "did you mean 'itemknn'" in message and "mf-als" in message


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="no parameter 'bogus'"):
        create_model("itemknn", bogus=1)


def test_none_keeps_the_default():
    default = create_model("mf-als")
    assert create_model("mf-als", factors=None).params == default.params


def test_command_line_values_take_the_field_type():
    from benchmark.models import model_config

    given = {"dilations": "1,2", "lr": "0.01", "all_windows": "false", "epochs": "3"}
    config = model_config("cnn", given)
    params = dict(config.params)
    assert {k: params[k] for k in given} == {
        "dilations": (1, 2),
        "lr": 0.01,
        "all_windows": False,
        "epochs": 3,
    }
    assert set(config.changed) <= set(given) and "epochs" in config.changed


def test_resolved_parameters_include_the_defaults_and_the_code():
    from benchmark.models import model_config, model_param_fields

    config = model_config("itemknn", {})
    assert dict(config.params).keys() == model_param_fields("itemknn").keys()
    assert config.changed == () and config.code.startswith("seqrec-bench ")
    assert model_config("gru", {}).code != model_config("cnn", {}).code


def test_the_trainer_counts_in_a_deep_model_code_fingerprint(monkeypatch):
    # an edit to the shared trainer must not reuse records of the old one
    import inspect

    import seqmodels.train
    from benchmark import models

    before, pop = models.code_fingerprint("gru"), models.code_fingerprint("pop")
    real = inspect.getsource
    edited = lambda m: real(m) + "# edited" if m is seqmodels.train else real(m)  # noqa: E731
    monkeypatch.setattr(inspect, "getsource", edited)
    models._fingerprint.cache_clear()
    try:
        assert models.code_fingerprint("gru") != before
        assert models.code_fingerprint("pop") == pop  # a baseline does not use the trainer
    finally:
        models._fingerprint.cache_clear()


def test_unknown_parameter_is_an_input_error():
    from benchmark.models import model_config
    from protocols.errors import InputError

    with pytest.raises(InputError, match="no parameter 'bogus'"):
        model_config("itemknn", {"bogus": "1"})


@pytest.mark.parametrize(
    ("name", "given", "message"),
    [
        ("itemknn", {"neighbours": "0"}, "neighbours must be >= 1"),
        ("itemknn", {"shrinkage": "inf"}, "shrinkage"),
        ("personal-topk", {"blend": "1.5"}, "blend"),
        ("mf-als", {"alpha": "0"}, "alpha"),
        ("mf-bpr", {"learning_rate": "-1"}, "learning_rate"),
        ("mf-bpr", {"factors": "0"}, "factors"),
        ("gru", {"dropout": "1"}, "dropout"),
        ("gru", {"lr": "0"}, "lr"),
        ("gru", {"max_steps": "-1"}, "max_steps must be >= 0"),
        ("gru", {"max_seconds": "-1"}, "max_seconds must be >= 0"),
        ("gru", {"max_seconds": "60", "lr_schedule": "linear"}, "a time not known in advance"),
        ("gru", {"lr_schedule": "cosine"}, "lr_schedule must be one of constant, linear"),
        ("gru", {"loss": "sampled_ce"}, "did you mean 'sampled-ce'"),
        ("gru", {"loss": "sampled-ce", "sampler": "zipf"}, "sampler"),
        ("sasrec", {"heads": "3"}, "divide by heads"),
        ("cnn", {"dilations": "0,1"}, "dilations"),
        ("mlp", {"layers": "-1"}, "layers"),
        ("bert4rec", {"mask_prob": "0"}, "mask_prob"),
        ("bert4rec", {"loss": "bce"}, "cannot train with --loss bce; use ce, sampled-ce"),
    ],
)
def test_a_refused_value_fails_when_the_configuration_is_built(name, given, message):
    # the same check for the command line (model_config) and the API (create_model), before
    # any data is read or any model fitted
    from benchmark.models import model_config
    from protocols.errors import InputError

    for build in (
        lambda: model_config(name, given),
        lambda: create_model(name, **_typed(name, given)),
    ):
        with pytest.raises(InputError, match=message) as error:
            build()
        assert str(error.value).startswith(f"model {name!r}: ") and "\n" not in str(error.value)


def _typed(name, given):
    from benchmark.config import read_value
    from benchmark.models import param_types

    types = param_types(name)
    return {k: read_value(v, types.get(k, str), k) for k, v in given.items()}


def test_which_losses_a_model_can_train_with():
    assert get_model_class("gru").Params.can_train_with("bce")
    assert get_model_class("bert4rec").Params.can_train_with("sampled-ce")
    assert not get_model_class("bert4rec").Params.can_train_with("bce")


def test_unknown_model_hints_at_plugins():
    with pytest.raises(UnknownModelError, match="--plugins"):
        create_model("my-model")


def test_class_attributes_say_baseline_and_seq_len():
    from benchmark.models import get_model_class

    for name in list_models():
        cls = get_model_class(name)
        assert cls.is_baseline == (name in {"pop", "personal-topk", "itemknn", "mf-als", "mf-bpr"})
        deep = {"mlp", "cnn", "caser", "gru", "narm", "sasrec", "gsasrec", "duorec", "cl4srec"}
        deep |= {"esasrec", "bert4rec", "hstu", "fmlprec"}
        assert cls.uses_seq_len == (name in deep)
