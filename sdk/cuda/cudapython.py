"""The CUDA interface over NVIDIA's cuda-python (``cuda.bindings.runtime``).

Every runtime call returns ``(err, *values)``; :func:`cuda_call` turns a non-zero ``err`` into
:class:`~restyle.errors.CudaError` (or :class:`~restyle.errors.OutOfMemoryError`) and returns the
values, as in TensorRT's ``samples/python/common_runtime.py``. Raw handles are read with
``cuda.bindings.utils.get_cuda_native_handle`` where it exists (``int(obj)`` is deprecated since
cuda-bindings 12.9.1).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle._optional import require
from restyle.cuda.api import DeviceMemory, Event, HostMemory, Owned, Stream, stream_handle
from restyle.errors import CudaError, OutOfMemoryError

__all__ = ["CudaPythonRuntime", "cuda_call", "native_handle"]


def _cudart() -> Any:
    return require("cuda.bindings.runtime", purpose="CUDA streams and pinned memory (cuda-python)")


def cuda_call(result: tuple[Any, ...], what: str = "CUDA call") -> Any:
    """Check a cuda-python result tuple and return its value(s).

    Raises:
        OutOfMemoryError: ``cudaErrorMemoryAllocation``.
        CudaError: Any other error code.
    """
    rt = _cudart()
    err, values = result[0], result[1:]
    if err != rt.cudaError_t.cudaSuccess:
        _, name = rt.cudaGetErrorName(err)
        _, text = rt.cudaGetErrorString(err)
        message = f"{what} failed: {name.decode()} ({text.decode()})"
        if err == rt.cudaError_t.cudaErrorMemoryAllocation:
            raise OutOfMemoryError(message + ": use a smaller batch_size or tile_size")
        raise CudaError(message)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def native_handle(obj: Any) -> int:
    """The address behind a cuda-python handle object (``cudaStream_t``, ``cudaEvent_t``...)."""
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:  # cuda-bindings before 12.9.1
        return int(obj)
    return int(get_cuda_native_handle(obj))


class _Stream(Owned):
    def __init__(self, rt: Any, native: Any, owned: bool) -> None:
        self._rt, self._native, self._owned = rt, native, owned

    @property
    def native(self) -> Any:
        return self._native

    @property
    def handle(self) -> int:
        return native_handle(self._native)

    def synchronize(self) -> None:
        cuda_call(self._rt.cudaStreamSynchronize(self._native), "cudaStreamSynchronize")

    def wait_event(self, event: Event) -> None:
        cuda_call(self._rt.cudaStreamWaitEvent(self._native, event.native, 0),
                  "cudaStreamWaitEvent")

    def close(self) -> None:
        if self._owned and self._native is not None:
            native, self._native = self._native, None
            cuda_call(self._rt.cudaStreamDestroy(native), "cudaStreamDestroy")


class _Event(Owned):
    def __init__(self, rt: Any) -> None:
        self._rt = rt
        flags = rt.cudaEventDisableTiming
        self._native: Any = cuda_call(rt.cudaEventCreateWithFlags(flags), "cudaEventCreate")

    @property
    def native(self) -> Any:
        return self._native

    def record(self, stream: Stream) -> None:
        cuda_call(self._rt.cudaEventRecord(self._native, stream.native), "cudaEventRecord")

    def synchronize(self) -> None:
        cuda_call(self._rt.cudaEventSynchronize(self._native), "cudaEventSynchronize")

    def close(self) -> None:
        if self._native is not None:
            native, self._native = self._native, None
            cuda_call(self._rt.cudaEventDestroy(native), "cudaEventDestroy")


class _HostMemory(Owned):
    def __init__(self, rt: Any, nbytes: int) -> None:
        self._rt, self._nbytes = rt, nbytes
        self._ptr: int = cuda_call(rt.cudaMallocHost(nbytes), f"cudaMallocHost({nbytes})")
        self._array = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(self._ptr))

    @property
    def ptr(self) -> int:
        return self._ptr

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def view(self, nbytes: int) -> NDArray[np.uint8]:
        return self._array[:nbytes]

    def close(self) -> None:
        if self._ptr:
            ptr, self._ptr = self._ptr, 0
            del self._array
            cuda_call(self._rt.cudaFreeHost(ptr), "cudaFreeHost")


class _DeviceMemory(Owned):
    def __init__(self, rt: Any, nbytes: int) -> None:
        self._rt, self._nbytes = rt, nbytes
        self._ptr: int = cuda_call(rt.cudaMalloc(nbytes), f"cudaMalloc({nbytes})")

    @property
    def ptr(self) -> int:
        return self._ptr

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def close(self) -> None:
        if self._ptr:
            ptr, self._ptr = self._ptr, 0
            cuda_call(self._rt.cudaFree(ptr), "cudaFree")


class _Graph(Owned):
    def __init__(self, rt: Any, graph: Any, instance: Any) -> None:
        self._rt, self._graph, self._instance = rt, graph, instance

    def launch(self, stream: Stream) -> None:
        cuda_call(self._rt.cudaGraphLaunch(self._instance, stream.native), "cudaGraphLaunch")

    def close(self) -> None:
        if self._instance is not None:
            instance, graph = self._instance, self._graph
            self._instance = self._graph = None
            cuda_call(self._rt.cudaGraphExecDestroy(instance), "cudaGraphExecDestroy")
            cuda_call(self._rt.cudaGraphDestroy(graph), "cudaGraphDestroy")


class CudaPythonRuntime:
    """:class:`~restyle.cuda.api.CudaRuntime` over cuda-python.

    Example:
        >>> rt = CudaPythonRuntime(0)  # doctest: +SKIP
        >>> with rt.host_alloc(1 << 20) as host, rt.device_alloc(1 << 20) as dev:  # doctest: +SKIP
        ...     ...
    """

    name = "cuda-python"
    supports_graphs = True

    def __init__(self, device: int = 0) -> None:
        self._rt = _cudart()
        self.device = device
        count = cuda_call(self._rt.cudaGetDeviceCount(), "cudaGetDeviceCount")
        if device >= count:
            raise CudaError(f"CUDA device {device} does not exist ({count} visible): pass "
                            f"device=0..{count - 1}")
        self.activate()

    def activate(self) -> None:
        cuda_call(self._rt.cudaSetDevice(self.device), f"cudaSetDevice({self.device})")

    def deactivate(self) -> None:
        """Nothing to undo: the runtime API has no context stack."""

    def synchronize_device(self) -> None:
        self.activate()
        cuda_call(self._rt.cudaDeviceSynchronize(), "cudaDeviceSynchronize")

    def memory_info(self) -> tuple[int, int]:
        self.activate()
        free, total = cuda_call(self._rt.cudaMemGetInfo(), "cudaMemGetInfo")
        return int(free), int(total)

    def stream(self, external: object | None = None) -> _Stream:
        if external is not None:
            return _Stream(self._rt, self._rt.cudaStream_t(stream_handle(external)), owned=False)
        flags = self._rt.cudaStreamNonBlocking
        return _Stream(self._rt, cuda_call(self._rt.cudaStreamCreateWithFlags(flags),
                                           "cudaStreamCreate"), owned=True)

    def event(self) -> _Event:
        return _Event(self._rt)

    def host_alloc(self, nbytes: int) -> _HostMemory:
        return _HostMemory(self._rt, nbytes)

    def device_alloc(self, nbytes: int) -> _DeviceMemory:
        return _DeviceMemory(self._rt, nbytes)

    def _copy(self, dst: int, src: int, nbytes: int, kind: Any, stream: Stream) -> None:
        cuda_call(self._rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream.native),
                  "cudaMemcpyAsync")

    def copy_h2d(self, dst: DeviceMemory, src: HostMemory, nbytes: int, stream: Stream) -> None:
        self._copy(dst.ptr, src.ptr, nbytes, self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice,
                   stream)

    def copy_d2h(self, dst: HostMemory, src: DeviceMemory, nbytes: int, stream: Stream) -> None:
        self._copy(dst.ptr, src.ptr, nbytes, self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                   stream)

    def capture(self, stream: Stream, enqueue: Callable[[], None]) -> _Graph:
        if stream.handle == 0:
            raise CudaError("CUDA graph capture is illegal on the legacy default stream (handle "
                            "0): pass a stream of your own, or cuda_graph=False")
        native = stream.native
        mode = self._rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        cuda_call(self._rt.cudaStreamBeginCapture(native, mode), "cudaStreamBeginCapture")
        failure: BaseException | None = None
        try:
            enqueue()
        except BaseException as exc:  # end the capture below, then re-raise this error
            failure = exc
        # Always end the capture, so the stream leaves capture mode; an error here must not
        # hide the enqueue's own error.
        err, graph = self._rt.cudaStreamEndCapture(native)
        if failure is not None:
            if err == self._rt.cudaError_t.cudaSuccess and graph is not None:
                self._rt.cudaGraphDestroy(graph)
            raise failure
        cuda_call((err, graph), "cudaStreamEndCapture")
        try:
            instance = cuda_call(self._rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        except CudaError:
            self._rt.cudaGraphDestroy(graph)
            raise
        return _Graph(self._rt, graph, instance)
