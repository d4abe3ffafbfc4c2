"""The importer registry: ``@register_importer``, and finding the importer a file's content fits.

Each foreign format is one module with one class registered here. An importer says which kind of
content it reads (``"torch"``: a state dict; ``"onnx"``: a graph) and recognises a file from that
content alone (keys, shapes, graph inputs and operators), never from its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from restyle.errors import ConfigError

__all__ = [
    "Detection",
    "Importer",
    "importer",
    "list_importers",
    "register_importer",
]


@dataclass(frozen=True)
class Detection:
    """What an importer recognised in a file.

    Attributes:
        format: The importer's registered name (``fast_neural_style``, ``cyclegan`` ...).
        summary: One line for people: what was found (layout, sizes, opset).
        config: The architecture's parameters read from the content (JSON-friendly).
    """

    format: str
    summary: str
    config: dict[str, Any] = field(default_factory=dict)


class Importer(Protocol):
    """One foreign format. ``content`` is a ``dict[str, torch.Tensor]`` for ``kind == "torch"``
    and an ``onnx.ModelProto`` for ``kind == "onnx"``."""

    name: ClassVar[str]
    kind: ClassVar[str]
    title: ClassVar[str]
    """The source project and format, as written into the model's metadata."""

    def detect(self, content: Any) -> Detection | None:
        """The detection when ``content`` is this format, else None."""
        ...


T = TypeVar("T", bound=type)

_IMPORTERS: dict[str, type[Any]] = {}

KINDS = ("torch", "onnx")


def register_importer(name: str, *, kind: str, title: str) -> Callable[[T], T]:
    """Class decorator registering an importer of ``kind`` content under ``name``.

    Example:
        >>> @register_importer("doc-example", kind="onnx", title="an example")
        ... class _Example:
        ...     def detect(self, content): return None
        >>> "doc-example" in list_importers()
        True
    """
    if kind not in KINDS:
        raise ValueError(f"importer kind must be one of {KINDS}, got {kind!r}")

    def decorator(cls: T) -> T:
        known = _IMPORTERS.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"importer {name!r} is registered twice")
        cls.name, cls.kind, cls.title = name, kind, title  # type: ignore[attr-defined]
        _IMPORTERS[name] = cls
        return cls

    return decorator


def list_importers(kind: str | None = None) -> dict[str, str]:
    """Registered importer names → titles (of one ``kind`` if given), sorted by name."""
    _load_builtin()
    return {n: c.title for n, c in sorted(_IMPORTERS.items()) if kind in (None, c.kind)}


def importer(name: str) -> Any:
    """A new instance of the importer registered as ``name``.

    Raises:
        ConfigError: No importer has that name; the message lists them.
    """
    _load_builtin()
    try:
        return _IMPORTERS[name]()
    except KeyError:
        raise ConfigError(f"unknown model format {name!r}: choose one of "
                          f"{', '.join(sorted(_IMPORTERS))}") from None


def candidates(kind: str) -> Mapping[str, Any]:
    """An instance of every importer of ``kind``, by name."""
    _load_builtin()
    return {n: c() for n, c in sorted(_IMPORTERS.items()) if c.kind == kind}


def _load_builtin() -> None:
    # The built-in importers register themselves when their modules are imported; they import
    # torch and onnx only inside their methods, so loading them is cheap.
    from restyle.export.importers import (  # noqa: F401
        animegan2,
        animeganv3,
        cyclegan,
        fast_neural_style,
        onnx_zoo,
    )
