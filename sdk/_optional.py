"""Lazy imports of optional heavy dependencies, failing with the extra that installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from restyle.errors import DependencyError

__all__ = ["EXTRAS", "require"]

#: module name → (extra, what it is for). The extra is what `pip install 'restyle[EXTRA]'` takes.
EXTRAS: dict[str, tuple[str, str]] = {
    "onnxruntime": ("cpu", "running models with ONNX Runtime ([gpu] on a CUDA machine)"),
    "openvino": ("openvino", "the OpenVINO CPU backend"),
    "av": ("video", "reading and writing video"),
    "torch": ("train", "training and export"),
    "onnx": ("train", "exporting and inspecting ONNX files"),
    "onnxscript": ("train", "the dynamo ONNX exporter"),
    "safetensors": ("train", "reading and writing checkpoints"),
    "nncf": ("int8", "int8 quantisation (restyle quantize, restyle export --int8)"),
    "tensorrt": ("gpu", "TensorRT engines (install TensorRT from NVIDIA: see README, 'GPU')"),
    "cuda": ("gpu", "CUDA streams and pinned memory through cuda-python"),
    "pycuda": ("gpu", "CUDA streams through pycuda (pip install pycuda; needs the CUDA toolkit)"),
    "skimage": ("dev", "the built-in sample photos (scikit-image)"),
    "matplotlib": ("dev", "benchmark plots"),
    "ray": ("ray", "Ray Data batch inference"),
    "tritonclient": ("triton", "Triton model configuration"),
    "fastapi": ("serve", "restyle serve"),
    "uvicorn": ("serve", "restyle serve"),
    "prometheus_client": ("serve", "restyle serve's metrics"),
    "python_multipart": ("serve", "restyle serve's form uploads"),
}


def require(module: str, *, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`DependencyError` naming the extra that installs it.

    Args:
        module: Dotted module name, e.g. ``"onnxruntime"`` or ``"cuda.bindings.runtime"``.
        purpose: What the caller needs it for; defaults to the entry in :data:`EXTRAS`.

    Returns:
        The imported module.

    Raises:
        DependencyError: The module (or one of its own dependencies) cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra, default_purpose = EXTRAS.get(top, ("", f"the '{top}' package"))
        why = purpose or default_purpose
        fix = f"pip install 'restyle[{extra}]'" if extra else f"pip install {top}"
        raise DependencyError(
            f"{module} is needed for {why} but cannot be imported ({exc}): install it with `{fix}`"
        ) from exc
