"""Pinned host and device buffers that grow only when a larger batch arrives, and the slots that
keep batches in flight on their own streams."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle.cuda.api import CudaRuntime, DeviceMemory, Graph, HostMemory, Owned, Stream
from restyle.errors import CudaError

__all__ = ["GrowingBuffer", "InFlight", "Slot", "SlotPool"]

_GRANULE = 1 << 20  # grow in whole MiB so nearby sizes reuse one allocation


class GrowingBuffer(Owned):
    """A pinned host buffer and a device buffer of equal size, grown on demand.

    Example:
        >>> buf = GrowingBuffer(runtime)  # doctest: +SKIP
        >>> buf.ensure(3 * 720 * 1280)  # doctest: +SKIP
    """

    def __init__(self, cuda: CudaRuntime) -> None:
        self._cuda = cuda
        self._host: HostMemory | None = None
        self._device: DeviceMemory | None = None
        self.capacity = 0

    def ensure(self, nbytes: int) -> None:
        """Make room for ``nbytes`` (reallocating only when the buffers are too small)."""
        if nbytes <= self.capacity:
            return
        self.close()
        size = -(-nbytes // _GRANULE) * _GRANULE
        self._host = self._cuda.host_alloc(size)
        self._device = self._cuda.device_alloc(size)
        self.capacity = size

    @property
    def host(self) -> HostMemory:
        if self._host is None:
            raise CudaError("buffer used before ensure()")
        return self._host

    @property
    def device(self) -> DeviceMemory:
        if self._device is None:
            raise CudaError("buffer used before ensure()")
        return self._device

    def close(self) -> None:
        host, device = self._host, self._device
        self._host = self._device = None
        self.capacity = 0
        try:
            if device is not None:
                device.close()
        finally:
            if host is not None:
                host.close()


class Slot(Owned):
    """One batch in flight: a stream, input/output buffers, events, and captured graphs."""

    def __init__(self, cuda: CudaRuntime, external_stream: object | None = None) -> None:
        self.stream: Stream = cuda.stream(external_stream)
        self.inputs = GrowingBuffer(cuda)
        self.outputs = GrowingBuffer(cuda)
        self.graphs: dict[tuple[Any, ...], Graph] = {}
        try:
            self.computed = cuda.event()  # the engine finished with its scratch memory
            self.done = cuda.event()  # the output copy finished
        except BaseException:
            self.stream.close()
            raise

    def copy_in(self, cuda: CudaRuntime, data: NDArray[Any]) -> int:
        """Put ``data`` in pinned memory and queue its copy to the device; returns its bytes."""
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        self.inputs.ensure(raw.nbytes)
        self.inputs.host.view(raw.nbytes)[:] = raw
        cuda.copy_h2d(self.inputs.device, self.inputs.host, raw.nbytes, self.stream)
        return int(raw.nbytes)

    def drop_graphs(self) -> None:
        graphs, self.graphs = self.graphs, {}
        for graph in graphs.values():
            graph.close()

    def close(self) -> None:
        try:
            self.stream.synchronize()
        finally:
            self.drop_graphs()
            self.inputs.close()
            self.outputs.close()
            self.computed.close()
            self.done.close()
            self.stream.close()


class SlotPool(Owned):
    """``count`` slots handed out to one batch at a time (thread-safe)."""

    def __init__(self, cuda: CudaRuntime, count: int, external_stream: object | None = None
                 ) -> None:
        self.slots: list[Slot] = []
        try:
            for _ in range(max(1, count)):
                self.slots.append(Slot(cuda, external_stream))
        except BaseException:
            self.close()
            raise
        self._free: queue.Queue[Slot] = queue.Queue()
        for slot in self.slots:
            self._free.put(slot)

    def acquire(self, *, block: bool) -> Slot | None:
        try:
            return self._free.get(block=block)
        except queue.Empty:
            return None

    def release(self, slot: Slot) -> None:
        self._free.put(slot)

    def close(self) -> None:
        errors: list[BaseException] = []
        for slot in self.slots:
            try:
                slot.close()
            except Exception as exc:  # close every slot, then report the first failure
                errors.append(exc)
        self.slots = []
        if errors:
            raise errors[0]


class InFlight:
    """A submitted batch: :meth:`wait` syncs its slot, converts the output and frees the slot."""

    def __init__(self, pool: SlotPool, slot: Slot, nbytes: int,
                 convert: Callable[[NDArray[np.uint8]], NDArray[np.uint8]],
                 cuda: CudaRuntime | None = None) -> None:
        self._pool, self._nbytes, self._convert, self._cuda = pool, nbytes, convert, cuda
        self._slot: Slot | None = slot
        self._lock = threading.Lock()
        self._result: NDArray[np.uint8] | None = None

    def wait(self) -> NDArray[np.uint8]:
        with self._lock:
            if self._slot is not None:
                slot, self._slot = self._slot, None
                if self._cuda is not None:  # the waiting thread may have no current context
                    self._cuda.activate()
                try:
                    slot.done.synchronize()
                    self._result = self._convert(slot.outputs.host.view(self._nbytes).copy())
                finally:
                    self._pool.release(slot)
                    if self._cuda is not None:
                        self._cuda.deactivate()
            if self._result is None:
                raise CudaError("this batch failed earlier (see the first error)")
            return self._result
