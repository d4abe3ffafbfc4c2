"""restyle's use of the real cuda-python (cuda-bindings) where no GPU is present: handles read
without the deprecated ``int()``, errors named, no GPU reported with its reason. Skipped where
cuda-python is not installed (it comes with ``restyle[gpu]``)."""

from __future__ import annotations

import pytest

cudart = pytest.importorskip("cuda.bindings.runtime")

from restyle.cuda import get_runtime, stream_handle  # noqa: E402
from restyle.cuda.cudapython import cuda_call, native_handle  # noqa: E402
from restyle.cuda.devices import list_gpus  # noqa: E402
from restyle.errors import BackendUnavailableError, CudaError  # noqa: E402


def test_handles_of_cuda_python_objects_without_deprecated_int() -> None:
    """``int(cudaStream_t)`` is deprecated since cuda-bindings 12.9.1; warnings are errors here."""
    stream = cudart.cudaStream_t(0x1234)
    assert native_handle(stream) == 0x1234
    assert stream_handle(stream) == 0x1234
    assert native_handle(cudart.cudaEvent_t(0x5678)) == 0x5678


def test_cuda_errors_name_the_cuda_error() -> None:
    count = cudart.cudaGetDeviceCount()
    if count[0] == cudart.cudaError_t.cudaSuccess and count[1] > 0:
        pytest.skip("a GPU is visible here")
    with pytest.raises(CudaError, match="cudaGetDeviceCount failed: cudaError"):
        cuda_call(count, "cudaGetDeviceCount")
    with pytest.raises(CudaError):
        get_runtime("cuda-python")


def test_no_gpu_is_reported_with_cudas_reason() -> None:
    from restyle.cuda.devices import gpu_identity

    gpus, reason = list_gpus()
    if gpus:
        pytest.skip("a GPU is visible here")
    assert "CUDA" in reason
    with pytest.raises(BackendUnavailableError, match="CUDA GPU 0 is not visible"):
        gpu_identity(0)
