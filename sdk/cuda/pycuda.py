"""The CUDA interface over pycuda (``cuda="pycuda"``), sharing the device's primary context with
TensorRT and the CUDA runtime.

pycuda streams cannot be built from a raw handle, so an application stream must be a
``pycuda.driver.Stream`` here (use ``cuda="cuda-python"`` for int handles, torch or CuPy streams).

pycuda keeps a per-thread context stack and aborts the process at exit when it is not empty (its
own ``pycuda.autoinit`` pops at exit): :meth:`PyCudaRuntime.activate` pushes the primary context
only where none is current and :meth:`~PyCudaRuntime.deactivate` pops exactly what was pushed, so
every GPU section is bracketed and nothing is left on the stack. pycuda has no stream capture or
graph API, so ``cuda_graph=True`` is refused with pycuda up front (:attr:`supports_graphs`).
Streams are created non-blocking (``CU_STREAM_NON_BLOCKING``), like cuda-python's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle._optional import require
from restyle.cuda.api import DeviceMemory, Event, Graph, HostMemory, Owned, Stream
from restyle.errors import ConfigError, CudaError, OutOfMemoryError

__all__ = ["PyCudaRuntime"]

_CU_STREAM_NON_BLOCKING = 1  # CUstream_flags: no implicit synchronisation with stream 0


def _driver() -> Any:
    return require("pycuda.driver", purpose="CUDA streams through pycuda")


@contextmanager
def _checked(what: str) -> Iterator[None]:
    """Translate pycuda's exceptions into restyle's."""
    drv = _driver()
    try:
        yield
    except drv.MemoryError as exc:
        raise OutOfMemoryError(f"{what} failed: {exc}: use a smaller batch_size or "
                               "tile_size") from exc
    except drv.Error as exc:
        raise CudaError(f"{what} failed: {exc}") from exc


class _Stream(Owned):
    def __init__(self, native: Any, owned: bool) -> None:
        self._native, self._owned = native, owned

    @property
    def native(self) -> Any:
        return self._native

    @property
    def handle(self) -> int:
        return int(self._native.handle)

    def synchronize(self) -> None:
        with _checked("stream synchronize"):
            self._native.synchronize()

    def wait_event(self, event: Event) -> None:
        with _checked("stream wait_for_event"):
            self._native.wait_for_event(event.native)

    def close(self) -> None:
        self._native = None  # pycuda destroys the stream when its last reference goes


class _Event(Owned):
    def __init__(self) -> None:
        with _checked("event create"):
            self._native: Any = _driver().Event(_driver().event_flags.DISABLE_TIMING)

    @property
    def native(self) -> Any:
        return self._native

    def record(self, stream: Stream) -> None:
        with _checked("event record"):
            self._native.record(stream.native)

    def synchronize(self) -> None:
        with _checked("event synchronize"):
            self._native.synchronize()

    def close(self) -> None:
        self._native = None


class _HostMemory(Owned):
    def __init__(self, nbytes: int) -> None:
        with _checked(f"pagelocked_empty({nbytes})"):
            self._array: NDArray[np.uint8] | None = _driver().pagelocked_empty(nbytes, np.uint8)
        self._nbytes = nbytes
        self._pinned: Any = self._array.base if self._array is not None else None  # the owner

    def _arr(self) -> NDArray[np.uint8]:
        if self._array is None:
            raise CudaError("pinned host buffer used after close()")
        return self._array

    @property
    def ptr(self) -> int:
        return int(self._arr().ctypes.data)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def view(self, nbytes: int) -> NDArray[np.uint8]:
        return self._arr()[:nbytes]

    def close(self) -> None:
        if self._array is not None:
            pinned, self._array, self._pinned = self._pinned, None, None
            with _checked("pinned free"):
                pinned.free()


class _DeviceMemory(Owned):
    def __init__(self, nbytes: int) -> None:
        with _checked(f"mem_alloc({nbytes})"):
            self._alloc: Any = _driver().mem_alloc(nbytes)
        self._nbytes = nbytes

    @property
    def ptr(self) -> int:
        return int(self._alloc)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def close(self) -> None:
        if self._alloc is not None:
            alloc, self._alloc = self._alloc, None
            with _checked("mem free"):
                alloc.free()


class PyCudaRuntime:
    """:class:`~restyle.cuda.api.CudaRuntime` over pycuda.

    Example:
        >>> rt = PyCudaRuntime(0)  # doctest: +SKIP
        >>> with rt.stream() as s:  # doctest: +SKIP
        ...     s.synchronize()
    """

    name = "pycuda"
    supports_graphs = False

    def __init__(self, device: int = 0) -> None:
        drv = _driver()
        self.device = device
        with _checked("CUDA init"):
            drv.init()
            count = drv.Device.count()
            if device >= count:
                raise CudaError(f"CUDA device {device} does not exist ({count} visible): pass "
                                f"device=0..{count - 1}")
            self._context = drv.Device(device).retain_primary_context()
        self._pushed = threading.local()  # per thread: one flag per activate(), True if pushed

    def _stack(self) -> list[bool]:
        stack: list[bool] | None = getattr(self._pushed, "stack", None)
        if stack is None:
            stack = self._pushed.stack = []
        return stack

    def activate(self) -> None:
        drv = _driver()
        with _checked("context push"):
            current = drv.Context.get_current()
            push = current is None or current != self._context
            if push:
                self._context.push()
        self._stack().append(push)

    def deactivate(self) -> None:
        stack = self._stack()
        if stack and stack.pop():
            with _checked("context pop"):
                _driver().Context.pop()

    @contextmanager
    def _active(self) -> Iterator[None]:
        self.activate()
        try:
            yield
        finally:
            self.deactivate()

    def synchronize_device(self) -> None:
        with self._active(), _checked("context synchronize"):
            _driver().Context.synchronize()

    def memory_info(self) -> tuple[int, int]:
        with self._active(), _checked("mem_get_info"):
            free, total = _driver().mem_get_info()
        return int(free), int(total)

    def stream(self, external: object | None = None) -> _Stream:
        drv = _driver()
        if external is not None:
            if not isinstance(external, drv.Stream):
                raise ConfigError("with cuda='pycuda' an application stream must be a "
                                  "pycuda.driver.Stream; for int handles, torch or CuPy streams "
                                  "use cuda='cuda-python'")
            return _Stream(external, owned=False)
        with _checked("stream create"):
            return _Stream(drv.Stream(flags=_CU_STREAM_NON_BLOCKING), owned=True)

    def event(self) -> _Event:
        return _Event()

    def host_alloc(self, nbytes: int) -> _HostMemory:
        return _HostMemory(nbytes)

    def device_alloc(self, nbytes: int) -> _DeviceMemory:
        return _DeviceMemory(nbytes)

    def copy_h2d(self, dst: DeviceMemory, src: HostMemory, nbytes: int, stream: Stream) -> None:
        with _checked("memcpy_htod_async"):
            _driver().memcpy_htod_async(dst.ptr, src.view(nbytes), stream.native)

    def copy_d2h(self, dst: HostMemory, src: DeviceMemory, nbytes: int, stream: Stream) -> None:
        with _checked("memcpy_dtoh_async"):
            _driver().memcpy_dtoh_async(dst.view(nbytes), src.ptr, stream.native)

    def capture(self, stream: Stream, enqueue: Callable[[], None]) -> Graph:
        """pycuda has no stream capture or graph API: always refused (TensorRT refuses
        ``cuda_graph=True`` with pycuda before it gets here)."""
        raise CudaError("pycuda has no CUDA graph capture: use cuda='cuda-python' or pass "
                        "cuda_graph=False")
