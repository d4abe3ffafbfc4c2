"""The CUDA interface restyle's GPU backends are written against, and stream-handle adoption.

Two implementations exist: :mod:`restyle.cuda.cudapython` (NVIDIA's cuda-python, what TensorRT's
samples use) and :mod:`restyle.cuda.pycuda`. Every object that owns device or pinned memory, a
stream, an event or a graph has ``close()``; none of this imports a CUDA binding by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from restyle.errors import ConfigError

__all__ = [
    "CudaRuntime",
    "DeviceMemory",
    "Event",
    "Graph",
    "HostMemory",
    "Owned",
    "Stream",
    "stream_handle",
]

_O = TypeVar("_O", bound="Owned")


class Stream(Protocol):
    """A CUDA stream (owned, or adopted from the application and then never destroyed)."""

    @property
    def native(self) -> Any:
        """The binding's own stream object (``cudaStream_t`` or ``pycuda.driver.Stream``)."""
        ...

    @property
    def handle(self) -> int:
        """The raw ``cudaStream_t`` value (0 is the legacy default stream)."""
        ...

    def synchronize(self) -> None: ...

    def wait_event(self, event: Event) -> None:
        """Make later work on this stream wait until ``event`` has completed."""
        ...

    def close(self) -> None: ...


class Event(Protocol):
    """A CUDA event."""

    @property
    def native(self) -> Any:
        """The binding's own event object."""
        ...

    def record(self, stream: Stream) -> None: ...

    def synchronize(self) -> None: ...

    def close(self) -> None: ...


class HostMemory(Protocol):
    """Page-locked (pinned) host memory."""

    @property
    def ptr(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    def view(self, nbytes: int) -> NDArray[np.uint8]:
        """The first ``nbytes`` as a writable uint8 array (no copy)."""
        ...

    def close(self) -> None: ...


class DeviceMemory(Protocol):
    """Device memory."""

    @property
    def ptr(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    def close(self) -> None: ...


class Graph(Protocol):
    """An instantiated CUDA graph."""

    def launch(self, stream: Stream) -> None: ...

    def close(self) -> None: ...


class CudaRuntime(Protocol):
    """What the GPU backends need from a CUDA binding."""

    name: str
    device: int
    supports_graphs: bool
    """Whether :meth:`capture` works with this binding (pycuda has no stream capture)."""

    def activate(self) -> None:
        """Make this runtime's device current in the calling thread."""
        ...

    def deactivate(self) -> None:
        """Undo :meth:`activate` in the calling thread (pycuda pops the context it pushed)."""
        ...

    def synchronize_device(self) -> None:
        """Wait for all work on the device (used before handing buffers to another library)."""
        ...

    def memory_info(self) -> tuple[int, int]:
        """``(free, total)`` bytes of device memory."""
        ...

    def stream(self, external: object | None = None) -> Stream:
        """A new non-blocking stream, or the application's ``external`` one (not owned)."""
        ...

    def event(self) -> Event: ...

    def host_alloc(self, nbytes: int) -> HostMemory: ...

    def device_alloc(self, nbytes: int) -> DeviceMemory: ...

    def copy_h2d(self, dst: DeviceMemory, src: HostMemory, nbytes: int, stream: Stream) -> None:
        ...

    def copy_d2h(self, dst: HostMemory, src: DeviceMemory, nbytes: int, stream: Stream) -> None:
        ...

    def capture(self, stream: Stream, enqueue: Callable[[], None]) -> Graph:
        """Capture the work ``enqueue`` puts on ``stream`` into a graph (it does not run).

        Raises:
            CudaError: The capture failed (it is ended first, so the stream is usable again);
                also for the legacy default stream (handle 0), on which capture is illegal.
        """
        ...


def stream_handle(stream: object) -> int:
    """The raw ``cudaStream_t`` of an application's stream object.

    Accepts an int, an object with the CUDA stream protocol (``__cuda_stream__``), a torch stream
    (``cuda_stream``), a CuPy stream (``ptr``), a pycuda stream (``handle``), or a cuda-python
    ``cudaStream_t`` (``int()``).

    Raises:
        ConfigError: The object is none of those.

    Example:
        >>> stream_handle(0x7F00)
        32512
    """
    if isinstance(stream, (bool, float)):
        raise ConfigError(f"a CUDA stream cannot be a {type(stream).__name__}: pass an int handle "
                          "or a stream object")
    if isinstance(stream, int):
        return stream
    protocol = getattr(stream, "__cuda_stream__", None)
    if callable(protocol):
        _, handle = protocol()
        return int(handle)
    for attr in ("cuda_stream", "ptr", "handle"):
        value = getattr(stream, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    try:  # cuda-python objects: int() is deprecated since cuda-bindings 12.9.1
        from cuda.bindings.utils import get_cuda_native_handle

        return int(get_cuda_native_handle(stream))
    except (ImportError, TypeError, ValueError):
        pass
    convertible: Any = stream  # older cuda-python handle types define __int__
    try:
        return int(convertible)
    except (TypeError, ValueError):
        raise ConfigError(f"cannot get a CUDA stream handle from a {type(stream).__name__}: pass "
                          "an int handle or a torch / CuPy / pycuda / cuda-python stream") from None


class Owned:
    """Mixin: ``with obj: ...`` closes ``obj`` at the end; subclasses define ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _O) -> _O:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
