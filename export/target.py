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

import logging
import shutil
import subprocess
from dataclasses import dataclass
from types import ModuleType

from restyle._optional import require
from restyle.errors import BackendUnavailableError, ConfigError, DependencyError
from restyle.export.engine_cache import BuildTarget, parse_version

__all__ = [
    "MIN_TENSORRT_MAJOR",
    "BuildPlan",
    "detect_target",
    "gpu_identity",
    "load_tensorrt",
    "plan_build",
]

log = logging.getLogger("restyle.export")

MIN_TENSORRT_MAJOR = 10
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


def gpu_identity(device: int = 0) -> tuple[str, str]:
    """The name and compute capability (``"8.9"``) of CUDA device ``device``.

    Asks cuda-python, else ``nvidia-smi``.

    Raises:
        BackendUnavailableError: No CUDA GPU is visible.
    """
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        cudart = None
    if cudart is not None:
        err, props = cudart.cudaGetDeviceProperties(device)
        if int(err) == 0:
            name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
            return name.strip("\x00 "), f"{props.major}.{props.minor}"
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run(
                [smi, f"--id={device}", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            raise BackendUnavailableError(f"nvidia-smi failed: {exc}") from exc
        name, _, capability = out.rpartition(",")
        if name and capability.strip():
            return name.strip(), capability.strip()
    raise BackendUnavailableError(
        f"no CUDA GPU {device} is visible (cuda-python and nvidia-smi found none): TensorRT "
        "engines are built on the GPU that will run them"
    )


def detect_target(trt: ModuleType | None = None, *, device: int = 0) -> BuildTarget:
    """This machine's TensorRT version and GPU.

    Raises:
        DependencyError: TensorRT is not usable.
        BackendUnavailableError: No CUDA GPU is visible.
    """
    module = trt if trt is not None else load_tensorrt()
    name, capability = gpu_identity(device)
    return BuildTarget(tensorrt_version=str(module.__version__), gpu_name=name,
                       compute_capability=capability)
