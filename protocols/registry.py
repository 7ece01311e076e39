"""One registry mechanism for every name -> thing table: models, losses, data sets (and any
later one). A name is registered once; an unknown name lists the known ones and suggests the
closest. The model registry lives here, beside the contract, so model packages depend only on
`protocols`; `benchmark.models` imports the built-in models and resolves a run's model.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from protocols.errors import InputError
from protocols.interface import Recommender

T = TypeVar("T")


class UnknownNameError(InputError, KeyError):
    """A name no registry entry has (still a KeyError for lookups that expect one)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


UnknownModelError = UnknownNameError  # the name older code and plugins catch


class Registry(Generic[T]):
    """`name -> entry`, filled by `add` or the `register(name)` class decorator.

    `kind` names the entries in messages ("model", "loss"); `hint` ends the unknown-name
    message (how to add one); `check(name, entry)` may refuse an entry with a TypeError.
    """

    def __init__(
        self, kind: str, hint: str = "", check: Callable[[str, T], None] | None = None
    ) -> None:
        self.kind, self.hint, self.check = kind, hint, check
        self.entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self.entries:
            raise ValueError(f"{self.kind} {name!r} is already registered ({self.entries[name]!r})")
        if self.check is not None:
            self.check(name, entry)
        self.entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: `@MODELS.register("gru")`; the class gets `name`."""

        def add(cls: T) -> T:
            self.add(name, cls)
            cls.name = name  # type: ignore[attr-defined]
            return cls

        return add

    def get(self, name: str) -> T:
        if name not in self.entries:
            close = difflib.get_close_matches(name, list(self.entries), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(self.entries) or "none"
            extra = f" ({self.hint})" if self.hint else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint}; known: {known}{extra}")
        return self.entries[name]

    __getitem__ = get

    def names(self, pattern: str | None = None) -> list[str]:
        """Registered names, sorted; `pattern` keeps the names containing it."""
        return sorted(n for n in self.entries if pattern is None or pattern in n)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:  # in registration order
        return iter(self.entries)

    def values(self) -> list[T]:
        return list(self.entries.values())


def _check_model(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        raise TypeError(f"{cls!r} must subclass protocols.interface.Recommender")
    if not dataclasses.is_dataclass(cls.Params):
        raise TypeError(f"{cls.__name__}.Params must be a dataclass")


MODELS: Registry[type[Recommender]] = Registry(
    "model",
    "a model of your own registers when its module is imported: --plugins MODULE",
    _check_model,
)
register_model = MODELS.register
get_model_class = MODELS.get
list_models = MODELS.names


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
