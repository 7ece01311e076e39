"""The model registry: a name -> class table filled by the `@register_model` decorator.

It lives beside the contract so that model packages depend only on `protocols`;
`benchmark.models` imports every built-in model package and resolves a run's model.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from protocols.errors import InputError
from protocols.interface import Recommender

_MODELS: dict[str, type[Recommender]] = {}


class UnknownModelError(InputError, KeyError):
    """An unregistered model name (still a KeyError for lookups that expect one)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_model(name: str) -> Callable[[type[Recommender]], type[Recommender]]:
    """Class decorator: `@register_model("gru")`. A name can be registered once."""

    def add(cls: type[Recommender]) -> type[Recommender]:
        if name in _MODELS:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name]!r}")
        if not (isinstance(cls, type) and issubclass(cls, Recommender)):
            raise TypeError(f"{cls!r} must subclass protocols.interface.Recommender")
        if not dataclasses.is_dataclass(cls.Params):
            raise TypeError(f"{cls.__name__}.Params must be a dataclass")
        cls.name = name
        _MODELS[name] = cls
        return cls

    return add


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; `pattern` keeps the names containing it."""
    return sorted(n for n in _MODELS if pattern is None or pattern in n)


def get_model_class(name: str) -> type[Recommender]:
    if name not in _MODELS:
        known = ", ".join(list_models()) or "none"
        close = difflib.get_close_matches(name, list(_MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}{hint}; known models: {known} "
            "(a model of your own registers when its module is imported: --plugins MODULE)"
        )
    return _MODELS[name]


def model_param_fields(name: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(get_model_class(name).Params)}


def create_model(name: str, **params: Any) -> Recommender:
    """Build a model with its default parameters, overridden by the given ones.

    `None` values are dropped, so unset command-line options never override a model's defaults.
    """
    cls = get_model_class(name)
    params = {k: v for k, v in params.items() if v is not None}
    fields = model_param_fields(name)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        allowed = ", ".join(fields) or "none"
        raise InputError(
            f"model {name!r} has no parameter {unknown[0]!r}; its parameters: {allowed}"
        )
    try:
        return cls(cls.Params(**params))
    except InputError as error:  # a Params __post_init__ refusing a value
        raise InputError(f"model {name!r}: {error}") from None
