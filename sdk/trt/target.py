"""Which TensorRT and which GPU an engine is built for, and how the build differs between them.

TensorRT 10.x and 11.x share one build path; :func:`plan_build` holds the small differences, as
plain logic that is tested without TensorRT:

- 11.x builds strongly typed networks only (``BuilderFlag.FP16`` is gone): an FP16 engine comes
  from a mixed-precision ONNX file. 10.x gets the same network by asking for strong typing with
  ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``, so both build the same numerics
  (InstanceNormalization stays FP32 on both).
- TensorRT older than 10 is refused.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from types import ModuleType

from restyle._optional import require
from restyle.cuda.devices import gpu_identity
from restyle.errors import ConfigError, DependencyError
from restyle.trt.record import BuildTarget, parse_version

__all__ = [
    "FP16_CONVERTER_VERSION",
    "MIN_TENSORRT_MAJOR",
    "BuildPlan",
    "detect_target",
    "load_tensorrt",
    "plan_build",
    "tensorrt_problem",
]

log = logging.getLogger("restyle.trt")

MIN_TENSORRT_MAJOR = 10
#: The FP16 converter (:mod:`restyle.trt.mixed_fp16`) that makes FP16 networks from FP32 files:
#: part of the engine cache key, so a converter change rebuilds cached engines. Bump it with any
#: change to that module's output.
FP16_CONVERTER_VERSION = "restyle-mixed-fp16-1"
PRECISIONS = ("fp16", "fp32", "int8")


@dataclass(frozen=True)
class BuildPlan:
    """How to build an engine with a given TensorRT."""

    tensorrt_major: int
    strongly_typed: bool
    """Build a strongly typed network (always: required on 11.x, requested on 10.x)."""
    request_strong_typing_flag: bool
    """Pass ``STRONGLY_TYPED`` to ``create_network`` (10.x; on 11.x it is implicit)."""
    convert_to_fp16: bool
    """Convert the FP32 ONNX file to mixed precision in memory before parsing it."""
    precision: str
    """What the engine computes in: ``"fp16"`` or ``"fp32"``."""


def plan_build(tensorrt_version: str, *, fp16: bool, onnx_precision: str) -> BuildPlan:
    """Decide how to build for ``tensorrt_version``.

    Args:
        tensorrt_version: ``tensorrt.__version__``.
        fp16: Whether an FP16 engine is wanted.
        onnx_precision: The ONNX file's ``restyle.precision`` (``"fp32"``, ``"fp16"``, or
            ``"int8"`` for a QDQ file from ``restyle quantize``: an explicitly quantised,
            strongly typed engine whose float layers keep the file's fp32; unverified on a GPU).

    Returns:
        The plan. A mixed-precision ONNX file always gives an FP16 engine (strong typing follows
        the file's types).

    Raises:
        DependencyError: TensorRT is older than 10.
        ConfigError: ``onnx_precision`` is unknown.

    Example:
        >>> plan_build("11.4.0", fp16=True, onnx_precision="fp32").convert_to_fp16
        True
        >>> plan_build("10.13.0.35", fp16=True, onnx_precision="fp16").request_strong_typing_flag
        True
    """
    if onnx_precision not in PRECISIONS:
        raise ConfigError(f"unknown model precision {onnx_precision!r}: expected fp32, fp16 or "
                          "int8")
    numbers = parse_version(tensorrt_version)
    major = numbers[0] if numbers else 0
    if major < MIN_TENSORRT_MAJOR:
        raise DependencyError(
            f"TensorRT {tensorrt_version} is too old: restyle builds engines with TensorRT 10 or "
            "11 (install it from NVIDIA, see README 'GPU')"
        )
    if onnx_precision == "fp16" and not fp16:
        log.warning("the ONNX file is mixed-precision FP16, so the engine will be FP16 too")
    precision = ("int8" if onnx_precision == "int8" else
                 "fp16" if fp16 or onnx_precision == "fp16" else "fp32")
    return BuildPlan(
        tensorrt_major=major,
        strongly_typed=True,
        request_strong_typing_flag=major == MIN_TENSORRT_MAJOR,
        convert_to_fp16=precision == "fp16" and onnx_precision == "fp32",
        precision=precision,
    )


def load_tensorrt() -> ModuleType:
    """Import TensorRT, refusing the type stubs alone and releases older than 10.

    Raises:
        DependencyError: TensorRT is missing, only its stubs are installed, or it is too old.
    """
    trt = require("tensorrt")
    version = getattr(trt, "__version__", None)
    if version is None or not hasattr(trt, "Builder"):
        raise DependencyError(
            "only the TensorRT type stubs are installed, not TensorRT itself: install TensorRT "
            "10 or 11 from NVIDIA (see README 'GPU')"
        )
    plan_build(str(version), fp16=False, onnx_precision="fp32")  # refuses < 10
    return trt


def tensorrt_problem() -> str | None:
    """Why TensorRT cannot be used here (not installed, only its stubs, too old, or it fails to
    import), or None: the one "is TensorRT usable" check of restyle."""
    try:
        if importlib.util.find_spec("tensorrt") is None:
            return "TensorRT is not installed"
    except (ImportError, ValueError):
        return "TensorRT is not installed"
    try:
        load_tensorrt()
    except DependencyError as exc:
        return str(exc)
    return None


def detect_target(trt: ModuleType | None = None, *, device: int = 0) -> BuildTarget:
    """This machine's TensorRT version and GPU.

    Raises:
        DependencyError: TensorRT is not usable.
        BackendUnavailableError: No CUDA GPU is visible.
    """
    module = trt if trt is not None else load_tensorrt()
    gpu = gpu_identity(device)
    return BuildTarget(tensorrt_version=str(module.__version__), gpu_name=gpu.name,
                       compute_capability=gpu.compute_capability)
