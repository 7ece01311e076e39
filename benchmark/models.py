"""The model-creation side: every built-in model registered, plugins imported after them, and
a run's model resolved.

`model_config` checks the given parameters against the model's `Params` dataclass, fills in the
defaults and fingerprints the code, so a record always names the parameters and code it ran.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import pkgutil
import sys
import typing
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType
from typing import Any

import baselines  # noqa: F401  (registers the baselines)
import seqmodels  # noqa: F401  (registers the sequence models)
from benchmark.config import ModelConfig, read_value
from protocols.errors import InputError
from protocols.registry import (
    MODELS,
    UnknownModelError,
    create_model,
    get_model_class,
    list_models,
    model_param_fields,
    register_model,
)

__all__ = [
    "MODELS",
    "UnknownModelError",
    "code_fingerprint",
    "create_model",
    "get_model_class",
    "import_plugins",
    "list_models",
    "model_config",
    "model_param_fields",
    "param_types",
    "register_model",
]


def import_plugins(modules: str | Iterable[str]) -> None:
    """Import plugin modules (their models and losses register on import). The built-in models
    are registered before, so a plugin may use or subclass one at import time."""
    names = modules.split(",") if isinstance(modules, str) else modules
    for module in filter(None, (m.strip() for m in names)):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise InputError(f"--plugins: cannot import {module!r}: {error}") from None


def param_types(name: str) -> dict[str, Any]:
    return typing.get_type_hints(get_model_class(name).Params)


def model_config(name: str, given: dict[str, Any]) -> ModelConfig:
    """`model_config("itemknn", {"neighbours": "5"})`: every parameter, typed and resolved."""
    fields, types = model_param_fields(name), param_types(name)
    unknown = sorted(set(given) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise InputError(f"model {name!r} has no parameter {unknown[0]!r}; its parameters: {known}")
    typed = {k: read_value(v, types.get(k, str), f"{name} parameter {k}") for k, v in given.items()}
    cls = get_model_class(name)
    try:
        params = cls.Params(**typed)
    except (TypeError, ValueError) as error:  # a Params __post_init__ refusing a value
        raise InputError(f"model {name!r}: {error}") from None
    resolved = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    defaults = cls.Params()
    changed = tuple(k for k in sorted(resolved) if resolved[k] != getattr(defaults, k))
    code = code_fingerprint(name, resolved.get("loss"))
    return ModelConfig(name, tuple(sorted(resolved.items())), changed, code)


# The code that decides every model's numbers: the protocol (split, candidates, ranks,
# metrics), the readers and recipes of the data, and the pipeline that strings them together.
PROTOCOL_CODE = ("protocols", "benchmark.datasets", "benchmark.pipeline")
# ...but not the re-rankers: their code counts in re-ranked runs only (`rerank_code`).
OWN_FINGERPRINT = ("protocols.rerank",)


def code_fingerprint(name: str, loss: str | None = None) -> str:
    """`seqrec-bench 0.3.0 / <hash>`: the package version and a hash of the source of every
    module defining the model class or one of its bases (so a plugin's edited code counts) and
    of the modules of their packages these use (`used_modules`), of the modules it names in
    `code_modules` (the deep models' trainer and losses), and of every module of
    `PROTOCOL_CODE`, so that a changed protocol never reuses an old record; and of the module
    of `loss`, the training loss the run selects, where none of those holds it (a plugin's)."""
    loss_module = None
    if loss:
        from seqmodels.losses import LOSSES

        loss_module = inspect.getmodule(LOSSES.entries.get(loss))
    return _fingerprint(get_model_class(name), loss_module)


@functools.cache
def protocol_modules() -> tuple[ModuleType, ...]:
    """Every module of `PROTOCOL_CODE`, packages walked once per process, in name order."""
    found = {}
    for name in PROTOCOL_CODE:
        module = importlib.import_module(name)
        found[module.__name__] = module
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}."):
            if info.name.startswith(OWN_FINGERPRINT):
                continue
            if info.name.rsplit(".", 1)[-1] not in ("__main__", "command"):  # not the CLI
                found[info.name] = importlib.import_module(info.name)
    return tuple(found[name] for name in sorted(found))


def used_modules(roots: list[ModuleType | None]) -> list[ModuleType]:
    """`roots` and, transitively, every module of their own packages whose functions, classes
    or submodules they use at module level (sasrec's attention mask, cl4srec's augmentations),
    in the order found."""
    packages = {m.__name__.split(".")[0] for m in roots if m is not None} - {"builtins", "abc"}
    found: list[ModuleType] = []
    stack = [m for m in reversed(roots) if m is not None]
    while stack:
        module = stack.pop()
        if module in found:
            continue
        found.append(module)
        for value in vars(module).values():
            name = (
                value.__name__
                if isinstance(value, ModuleType)
                else getattr(value, "__module__", None)
            )
            if isinstance(name, str) and name.split(".")[0] in packages and name in sys.modules:
                stack.append(sys.modules[name])
    return found


@functools.cache
def _fingerprint(cls: type, loss_module: ModuleType | None = None) -> str:
    try:
        version = metadata.version("seqrec-bench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256()
    modules = []
    named = [importlib.import_module(name) for name in cls.code_modules]
    own = used_modules([inspect.getmodule(klass) for klass in cls.__mro__])
    for module in [*own, *named, *protocol_modules(), loss_module]:
        if module is None or module.__name__ in ("builtins", "abc") or module in modules:
            continue
        modules.append(module)
        try:
            digest.update(inspect.getsource(module).encode())
        except (OSError, TypeError):  # no source (a class built at run time): name only
            digest.update(module.__name__.encode())
    return f"seqrec-bench {version} / {digest.hexdigest()[:12]}"
