"""The CUDA interface over pycuda (``cuda="pycuda"``), sharing the device's primary context with
TensorRT and the CUDA runtime.

pycuda streams cannot be built from a raw handle, so an application stream must be a
``pycuda.driver.Stream`` here (use ``cuda="cuda-python"`` for int handles, torch or CuPy streams).
Graph capture needs a pycuda with ``Stream.begin_capture``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle._optional import require
from restyle.cuda.api import Event, Owned, Stream
from restyle.errors import BackendUnavailableError, ConfigError, CudaError, OutOfMemoryError

__all__ = ["PyCudaRuntime"]


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
        self.native, self._owned = native, owned

    @property
    def handle(self) -> int:
        return int(self.native.handle)

    def synchronize(self) -> None:
        with _checked("stream synchronize"):
            self.native.synchronize()

    def wait_event(self, event: Event) -> None:
        with _checked("stream wait_for_event"):
            self.native.wait_for_event(event.native)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.native = None  # pycuda destroys the stream when its last reference goes


class _Event(Owned):
    def __init__(self) -> None:
        with _checked("event create"):
            self.native = _driver().Event(_driver().event_flags.DISABLE_TIMING)

    def record(self, stream: Stream) -> None:
        with _checked("event record"):
            self.native.record(stream.native)  # type: ignore[attr-defined]

    def synchronize(self) -> None:
        with _checked("event synchronize"):
            self.native.synchronize()

    def close(self) -> None:
        self.native = None


class _HostMemory(Owned):
    def __init__(self, nbytes: int) -> None:
        with _checked(f"pagelocked_empty({nbytes})"):
            self._array: NDArray[np.uint8] | None = _driver().pagelocked_empty(nbytes, np.uint8)
        self._nbytes = nbytes

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
            array, self._array = self._array, None
            with _checked("pinned free"):
                array.base.free()  # type: ignore[union-attr]


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


class _Graph(Owned):
    def __init__(self, instance: Any) -> None:
        self._instance = instance

    def launch(self, stream: Stream) -> None:
        with _checked("graph launch"):
            self._instance.launch(stream.native)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._instance = None


class PyCudaRuntime:
    """:class:`~restyle.cuda.api.CudaRuntime` over pycuda.

    Example:
        >>> rt = PyCudaRuntime(0)  # doctest: +SKIP
        >>> with rt.stream() as s:  # doctest: +SKIP
        ...     s.synchronize()
    """

    name = "pycuda"

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
        self.activate()

    def activate(self) -> None:
        drv = _driver()
        with _checked("context push"):
            if drv.Context.get_current() is None:  # a new thread: make the primary context current
                self._context.push()

    def stream(self, external: object | None = None) -> _Stream:
        drv = _driver()
        if external is not None:
            if not isinstance(external, drv.Stream):
                raise ConfigError("with cuda='pycuda' an application stream must be a "
                                  "pycuda.driver.Stream; for int handles, torch or CuPy streams "
                                  "use cuda='cuda-python'")
            return _Stream(external, owned=False)
        with _checked("stream create"):
            return _Stream(drv.Stream(), owned=True)

    def event(self) -> _Event:
        return _Event()

    def host_alloc(self, nbytes: int) -> _HostMemory:
        return _HostMemory(nbytes)

    def device_alloc(self, nbytes: int) -> _DeviceMemory:
        return _DeviceMemory(nbytes)

    def copy_h2d(self, dst: Any, src: Any, nbytes: int, stream: Stream) -> None:
        with _checked("memcpy_htod_async"):
            _driver().memcpy_htod_async(dst.ptr, src.view(nbytes),
                                        stream.native)  # type: ignore[attr-defined]

    def copy_d2h(self, dst: Any, src: Any, nbytes: int, stream: Stream) -> None:
        with _checked("memcpy_dtoh_async"):
            _driver().memcpy_dtoh_async(dst.view(nbytes), src.ptr,
                                        stream.native)  # type: ignore[attr-defined]

    def capture(self, stream: Stream, enqueue: Callable[[], None]) -> _Graph:
        native = stream.native  # type: ignore[attr-defined]
        if not hasattr(native, "begin_capture"):
            raise BackendUnavailableError("this pycuda has no CUDA graph capture: upgrade pycuda, "
                                          "use cuda='cuda-python', or pass cuda_graph=False")
        with _checked("graph capture"):
            native.begin_capture()
            try:
                enqueue()
            finally:
                graph = native.end_capture()
            return _Graph(graph.instance())
