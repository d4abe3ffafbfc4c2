"""Generator architectures, registered by name.

Every generator takes float32 NCHW RGB in [0, 1] and returns float32 NCHW RGB in [0, 1] (the
output layer is a scaled tanh). Height and width must be multiples of the model's
``size_multiple``. ``create_model(arch, **model.config())`` rebuilds a model of the same shape.

Example:
    >>> from restyle.training.models import create_model, list_models
    >>> "johnson" in list_models() and "compact" in list_models()
    True
    >>> model = create_model("compact", width=8, blocks=1)
    >>> create_model(model.arch, **model.config()).config() == model.config()
    True
"""

from __future__ import annotations

from restyle.training.models.base import Generator
from restyle.training.models.registry import create_model, list_models, model_class, register_model

# Importing the architecture modules registers them.
from restyle.training.models import compact as _compact  # noqa: F401  isort: skip
from restyle.training.models import johnson as _johnson  # noqa: F401  isort: skip
from restyle.training.models import realtime as _realtime  # noqa: F401  isort: skip

__all__ = ["Generator", "create_model", "list_models", "model_class", "register_model"]
