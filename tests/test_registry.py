"""The registry: the full list of models, duplicates refused, typos answered with a suggestion."""

import pytest

from baselines.popularity import Popularity
from benchmark.registry import UnknownModelError, create_model, list_models, register_model

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
    import typing

    from benchmark.config import parse_params
    from benchmark.registry import model_param_fields
    from seqmodels.cnn import CNNParams

    hints = typing.get_type_hints(CNNParams)
    parsed = dict(
        parse_params(
            "cnn",
            ["dilations=1,2", "lr=0.01", "all_windows=false", "epochs=3"],
            model_param_fields("cnn"),
            hints,
        )
    )
    assert parsed == {"dilations": (1, 2), "lr": 0.01, "all_windows": False, "epochs": 3}
