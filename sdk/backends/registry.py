"""Backends register themselves by decorator; ``"auto"`` takes the fastest one that can run here.

Each backend module decorates its factory with :func:`register_backend`, giving a rank (lower is
faster, tried first by ``"auto"``) and a probe that says why the backend cannot run here (or None).
A factory is where loading meets running: it builds the backend's loader for the model (e.g.
:class:`~restyle.backends.ort_cpu.SessionFromOnnx`), wraps it in the backend (the runner) and
returns it activated, so what :func:`open_backend` returns is ready to run.
The CPU fallback is not a special case: ``ort_cpu`` is simply the last backend in the ranking.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from restyle.backends.base import Backend, BackendConfig, ModelSource
from restyle.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    DependencyError,
    EngineMismatchError,
    ExportError,
)

__all__ = ["BackendSpec", "backend_names", "get_backend_spec", "open_backend", "register_backend"]

log = logging.getLogger("restyle.backends")

Factory = Callable[[ModelSource, BackendConfig], Backend]
F = TypeVar("F", bound=Factory)
Probe = Callable[[ModelSource, BackendConfig], "str | None"]

#: Modules holding the built-in backends, imported when the registry is first used.
BUILTIN_MODULES = ("tensorrt", "ort_cuda", "openvino", "ort_cpu")


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend.

    Attributes:
        name: What ``Stylizer(backend=...)`` takes.
        rank: Order for ``"auto"``: lower is faster and tried first; 90 and above are never
            picked by ``"auto"`` (examples, test backends).
        summary: One line for ``restyle info`` and error messages.
        fix: What to install or do when the backend is unavailable.
        probe: Returns why the backend cannot run this model here, or None.
        factory: Builds the backend.
    """

    name: str
    rank: int
    summary: str
    fix: str
    probe: Probe
    factory: Factory


_REGISTRY: dict[str, BackendSpec] = {}
_loaded = False


def register_backend(name: str, *, rank: int, summary: str, fix: str,
                     probe: Probe) -> Callable[[F], F]:
    """Register the decorated ``factory(model, config) -> Backend`` under ``name``.

    The factory returns an active backend: loaded, compiled or built, ready to ``run``.

    Example:
        >>> from restyle.backends.base import Done
        >>> def never(model: ModelSource, config: BackendConfig) -> str | None:
        ...     return "an example that never runs"
        >>> @register_backend("doc_example", rank=99, summary="example", fix="-", probe=never)
        ... def _make(model: ModelSource, config: BackendConfig) -> Backend:
        ...     raise NotImplementedError
        >>> "doc_example" in backend_names()
        True
    """

    def decorator(factory: F) -> F:
        if name in _REGISTRY or name == "auto":
            raise ValueError(f"backend {name!r} is registered twice")
        _REGISTRY[name] = BackendSpec(name, rank, summary, fix, probe, factory)
        return factory

    return decorator


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_MODULES:
            importlib.import_module(f"restyle.backends.{module}")


def backend_names() -> list[str]:
    """Registered backend names, fastest first."""
    _load_builtins()
    return [s.name for s in sorted(_REGISTRY.values(), key=lambda s: s.rank)]


def get_backend_spec(name: str) -> BackendSpec:
    """The spec registered as ``name``.

    Raises:
        ConfigError: No such backend; the message lists the known ones.
    """
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(["auto", *backend_names()])
        raise ConfigError(f"unknown backend {name!r}: choose one of {known}") from None


def open_backend(name: str, model: ModelSource,
                 config: BackendConfig) -> tuple[Backend, tuple[str, ...]]:
    """Create backend ``name`` (or the fastest available for ``"auto"``).

    Args:
        name: A registered name or ``"auto"``.
        model: The model to load.
        config: How to run it.

    Returns:
        The backend, active (its model loaded), and for ``"auto"`` the reasons each faster
        backend was skipped.

    Raises:
        ConfigError: Unknown backend name.
        BackendUnavailableError: The named backend (or, for ``"auto"``, every backend) cannot run
            here; the message names the fix.
    """
    if name != "auto":
        spec = get_backend_spec(name)
        reason = spec.probe(model, config)
        if reason:
            raise BackendUnavailableError(f"backend {name!r} cannot run here: {reason}; {spec.fix}")
        return spec.factory(model, config), ()
    reasons: list[str] = []
    for spec_name in backend_names():
        spec = _REGISTRY[spec_name]
        if spec.rank >= 90:  # examples and test doubles are never picked automatically
            continue
        reason = spec.probe(model, config)
        if reason is None:
            try:
                backend = spec.factory(model, config)
            except (BackendUnavailableError, DependencyError, ImportError, BackendError,
                    ExportError, EngineMismatchError) as exc:  # every dependency error falls back
                reason = f"failed to start ({exc})"
                log.warning("backend %s: %s; trying the next one", spec.name, reason)
            else:
                log.debug("backend %s selected", spec.name)
                return backend, tuple(reasons)
        log.info("backend %s skipped: %s", spec.name, reason)
        reasons.append(f"{spec.name}: {reason}")
    if model.kind == "engine":
        fix = (". A TensorRT engine runs only on the tensorrt backend: on a machine with an NVIDIA "
               "GPU and `pip install 'restyle[gpu]'` (rebuild a damaged or mismatched engine with "
               "`restyle export --trt`); anywhere else, pass the model's .onnx file instead")
    else:
        fix = ". Install one with `pip install 'restyle[cpu]'`"
    raise BackendUnavailableError("no backend can run this model here: " + "; ".join(reasons)
                                  + fix)
