"""A ready TensorRT engine from a file: the loader half of the TensorRT backend.

Like Polygraphy's ``EngineFromPath``, :func:`load_engine` returns a deserialised engine that any
number of runners can open. It loads only two kinds of engine (an engine is executable code):

- engines restyle built, from its private cache (or written by ``restyle export --trt``): their
  sidecar must match this machine and model, and record the sha256 of the exact bytes loaded;
- an engine file the user named: its sidecar, when present, is checked the same way; without a
  sidecar (an engine from ``trtexec``, say) it is loaded with a warning, on the user's word.

Version-compatible engines carry host code that TensorRT runs only when
``Runtime.engine_host_code_allowed`` is set; it is set for those two kinds only.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restyle.errors import EngineMismatchError
from restyle.trt.record import EngineRecord, check_engine, read_sidecar, sidecar_path
from restyle.trt.target import detect_target, load_tensorrt

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["REBUILD", "EngineShapes", "LoadedEngine", "engine_shapes", "host_code_allowed",
           "load_engine"]

log = logging.getLogger("restyle.trt")

REBUILD = "rebuild it with `restyle export MODEL --trt` on this machine"


@dataclass
class LoadedEngine:
    """A deserialised engine and what keeps it alive (its runtime and logger).

    Attributes:
        engine: The ``ICudaEngine``.
        path: The engine file.
        record: Its sidecar (None for a user-named engine without one).
        version: The TensorRT version that loaded it.
    """

    engine: trt.ICudaEngine
    runtime: trt.Runtime
    logger: Any
    path: Path
    record: EngineRecord | None
    version: str

    @property
    def precision(self) -> str:
        return self.record.precision if self.record else "unknown (no sidecar)"


def host_code_allowed(record: EngineRecord | None, *, named_by_user: bool) -> bool:
    """Whether a runtime may run host code from this engine: version-compatible engines with a
    verified restyle record, or any engine the user named (their decision).

    Example:
        >>> host_code_allowed(None, named_by_user=False)
        False
    """
    if record is not None:
        return record.version_compatible
    return named_by_user


def load_engine(path: Path, *, device: int, named_by_user: bool) -> LoadedEngine:
    """Deserialise the engine at ``path`` on CUDA device ``device`` (make it current first).

    Args:
        path: The ``.engine`` file.
        device: The CUDA device it must have been built for.
        named_by_user: The user passed this file (not restyle's cache).

    Raises:
        DependencyError: TensorRT is not usable.
        EngineMismatchError: The sidecar says it is for another TensorRT, GPU or file; it is
            missing for an engine restyle should have built; or TensorRT cannot load it.
    """
    record: EngineRecord | None = None
    if sidecar_path(path).exists() or not named_by_user:
        record = read_sidecar(path)  # refused before TensorRT ever sees the file
    else:
        log.warning("%s has no restyle sidecar, so its TensorRT version, GPU and origin cannot be "
                    "checked; loading it because you named it (%s to record them)", path, REBUILD)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EngineMismatchError(f"cannot read engine {path}: {exc}; {REBUILD}") from exc
    if record is not None and hashlib.sha256(data).hexdigest() != record.engine_sha256:
        raise EngineMismatchError(f"engine {path} is not the file its sidecar describes (its "
                                  "sha256 differs): an engine is executable code, so restyle "
                                  f"will not load it; {REBUILD}")
    trt_mod = load_tensorrt()
    version = str(trt_mod.__version__)
    if record is not None:  # the machine and TensorRT it was built for
        check_engine(path, target=detect_target(trt_mod, device=device))
    logger = trt_mod.Logger(trt_mod.Logger.WARNING)
    runtime = trt_mod.Runtime(logger)
    if host_code_allowed(record, named_by_user=named_by_user):
        try:
            runtime.engine_host_code_allowed = True
        except AttributeError:  # a TensorRT without the attribute cannot run such engines anyway
            log.debug("this TensorRT has no engine_host_code_allowed")
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        hint = ("it is version-compatible but this TensorRT refused its host code"
                if record is not None and record.version_compatible
                else "it was built by another TensorRT version or for another GPU")
        raise EngineMismatchError(f"{path} cannot be loaded by TensorRT {version} on GPU "
                                  f"{device}: {hint}; {REBUILD}")
    return LoadedEngine(engine, runtime, logger, path, record, version)


def _dims(d: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in d)


class EngineShapes:
    """The input sizes an engine takes: ``min`` and ``max`` as (N, H, W), from its optimisation
    profile, or the fixed shape of a static engine (trtexec builds those from static ONNX files;
    they may report no profile shape).

    Example:
        >>> EngineShapes.from_dims((2, 64, 64, 3), None, nhwc=True).max
        (2, 64, 64)
    """

    def __init__(self, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> None:
        self.min, self.max = lo, hi

    @classmethod
    def from_dims(cls, tensor: tuple[int, ...], profile: tuple[tuple[int, ...], ...] | None, *,
                  nhwc: bool) -> EngineShapes:
        """From the input tensor's engine shape (-1 where dynamic) and its profile (min, opt,
        max) when it has one."""
        hw = (1, 2) if nhwc else (2, 3)

        def nhw(shape: tuple[int, ...]) -> tuple[int, int, int]:
            return (shape[0], shape[hw[0]], shape[hw[1]])

        if all(v > 0 for v in tensor):  # static: one shape only
            return cls(nhw(tensor), nhw(tensor))
        if profile is None or len(profile) != 3 or any(len(p) != len(tensor) for p in profile):
            raise EngineMismatchError(f"the engine's input is dynamic ({tensor}) but it reports no "
                                      f"optimisation profile: {REBUILD}")
        return cls(nhw(profile[0]), nhw(profile[2]))


def engine_shapes(engine: trt.ICudaEngine, name: str, *, nhwc: bool) -> EngineShapes:
    """:class:`EngineShapes` of input ``name`` of ``engine``."""
    tensor = _dims(engine.get_tensor_shape(name))
    profile: tuple[tuple[int, ...], ...] | None = None
    if any(v < 0 for v in tensor):
        try:
            profile = tuple(_dims(d) for d in engine.get_tensor_profile_shape(name, 0))
        except Exception:  # TensorRT raises when there is no profile
            profile = None
    return EngineShapes.from_dims(tensor, profile, nhwc=nhwc)
