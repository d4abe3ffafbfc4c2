"""The generator registry: ``@register_model(name)``, ``create_model``, ``list_models``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from restyle.errors import ConfigError
from restyle.training.models.base import Generator

__all__ = ["create_model", "list_models", "model_class", "register_model"]

G = TypeVar("G", bound=type[Generator])

_MODELS: dict[str, type[Generator]] = {}


def register_model(name: str) -> Callable[[G], G]:
    """Class decorator registering a :class:`Generator` subclass under ``name``.

    The class gets ``arch = name``.

    Example:
        >>> from restyle.training.models.compact import Compact
        >>> model_class("compact") is Compact
        True
    """

    def decorator(cls: G) -> G:
        known = _MODELS.get(name)
        # The same class defined again (a module reloaded) replaces itself; another one is a clash.
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"generator architecture {name!r} is registered twice "
                             f"({known.__qualname__} and {cls.__qualname__})")
        cls.arch = name
        _MODELS[name] = cls
        return cls

    return decorator


def list_models() -> list[str]:
    """The registered architecture names, sorted."""
    return sorted(_MODELS)


def model_class(name: str) -> type[Generator]:
    """The class registered as ``name``.

    Raises:
        ConfigError: No architecture has that name; the message lists the known ones.
    """
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown generator architecture {name!r}: choose one of {', '.join(list_models())}"
        ) from None


def create_model(name: str, **config: Any) -> Generator:
    """Build the architecture ``name`` with its constructor arguments ``config``.

    Args:
        name: A registered architecture name (see :func:`list_models`).
        **config: Constructor keyword arguments, e.g. ``width=16, blocks=3``; a model's
            ``config()`` is exactly such a mapping.

    Returns:
        A freshly initialised generator (train mode).

    Raises:
        ConfigError: Unknown architecture or a constructor argument it does not take.

    Example:
        >>> create_model("johnson", width=8, blocks=1).size_multiple
        4
    """
    cls = model_class(name)
    try:
        return cls(**config)
    except TypeError as exc:
        raise ConfigError(f"bad arguments for generator {name!r}: {exc}") from exc
