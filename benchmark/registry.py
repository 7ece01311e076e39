"""The model registry, with every built-in model imported (and so registered)."""

import baselines  # noqa: F401  (registers the baselines)
import seqmodels  # noqa: F401  (registers the sequence models)
from protocols.registry import (
    UnknownModelError,
    create_model,
    get_model_class,
    list_models,
    model_param_fields,
    register_model,
)

__all__ = [
    "UnknownModelError",
    "create_model",
    "get_model_class",
    "list_models",
    "model_param_fields",
    "register_model",
]
