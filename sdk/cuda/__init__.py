"""CUDA streams, pinned and device buffers: one interface, cuda-python and pycuda.

:func:`get_runtime` picks the binding: ``"cuda-python"`` (NVIDIA's, used by the TensorRT samples),
``"pycuda"``, or ``"auto"`` (cuda-python when installed, else pycuda).
"""

from __future__ import annotations

import importlib.util

from restyle.cuda.api import (
    CudaRuntime,
    DeviceMemory,
    Event,
    Graph,
    HostMemory,
    Stream,
    stream_handle,
)
from restyle.errors import ConfigError, DependencyError

__all__ = [
    "IMPLEMENTATIONS",
    "CudaRuntime",
    "DeviceMemory",
    "Event",
    "Graph",
    "HostMemory",
    "Stream",
    "available_bindings",
    "get_runtime",
    "stream_handle",
]

IMPLEMENTATIONS = ("cuda-python", "pycuda")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available_bindings() -> list[str]:
    """The CUDA bindings installed here, preferred first."""
    found = []
    if _installed("cuda.bindings"):
        found.append("cuda-python")
    if _installed("pycuda"):
        found.append("pycuda")
    return found


def get_runtime(impl: str = "auto", *, device: int = 0) -> CudaRuntime:
    """The CUDA runtime of binding ``impl`` on ``device``.

    Raises:
        ConfigError: Unknown binding name.
        DependencyError: The binding is not installed.
        CudaError: The device cannot be used.

    Example:
        >>> rt = get_runtime("cuda-python", device=0)  # doctest: +SKIP
        >>> with rt.stream() as s: ...  # doctest: +SKIP
    """
    if impl not in ("auto", *IMPLEMENTATIONS):
        raise ConfigError(f"unknown CUDA binding {impl!r}: choose auto, cuda-python or pycuda")
    if impl == "auto":
        found = available_bindings()
        if not found:
            raise DependencyError("no CUDA binding is installed: install cuda-python with "
                                  "`pip install 'restyle[gpu]'` (or pycuda)")
        impl = found[0]
    if impl == "cuda-python":
        from restyle.cuda.cudapython import CudaPythonRuntime

        return CudaPythonRuntime(device)
    from restyle.cuda.pycuda import PyCudaRuntime

    return PyCudaRuntime(device)
