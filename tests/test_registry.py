"""The registry: the full list of models, duplicates refused, typos answered with a suggestion."""

import pytest

from baselines.popularity import Popularity
from benchmark.models import UnknownModelError, create_model, list_models, register_model

EXPECTED = [
    "bert4rec",
    "cnn",
    "gru",
    "itemknn",
    "mf-als",
    "mf-bpr",
    "mlp",
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


def test_unknown_parameter_is_an_input_error():
    from benchmark.models import model_config
    from protocols.errors import InputError

    with pytest.raises(InputError, match="no parameter 'bogus'"):
        model_config("itemknn", {"bogus": "1"})


def test_unknown_model_hints_at_plugins():
    with pytest.raises(UnknownModelError, match="--plugins"):
        create_model("my-model")


def test_class_attributes_say_baseline_and_seq_len():
    from benchmark.models import get_model_class

    for name in list_models():
        cls = get_model_class(name)
        assert cls.is_baseline == (name in {"pop", "personal-topk", "itemknn", "mf-als", "mf-bpr"})
        assert cls.uses_seq_len == (name in {"mlp", "cnn", "gru", "sasrec", "bert4rec"})
