"""Batches in flight on a backend: the state machine behind :class:`~restyle.batching.BatchRunner`.

A :class:`Flight` holds two queues and nothing else:

* ``running``: ``(window, batch index, work)`` submitted to the backend, oldest first, at most
  ``limit`` of them;
* ``waiting``: windows in arrival order; the head leaves once all of its batches are done.

Its transitions are its methods: :meth:`Flight.add` (submit a window's batches),
:meth:`Flight.finish_oldest` (wait for the oldest batch, store its outputs, or, when the backend
fails on it in a window that keeps errors, run its frames one by one so the error lands on the
frame that causes it),
:meth:`Flight.drain`, :meth:`Flight.ready` (hand out finished windows, running their tiled frames
first) and :meth:`Flight.abandon` (the consumer left: wait for what runs, keep nothing). Whenever
work must run synchronously (a tiled frame, a retry after out-of-memory) everything in flight is
finished first, so the calling thread never waits for a device slot while holding one.

:class:`BatchSize` is the one piece of state shared between threads: the largest batch to send,
which only ever shrinks, under a lock, after an out-of-memory error.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from restyle.backends.base import Backend, Batch, Done, Waitable
from restyle.errors import BackendError, OutOfMemoryError

if TYPE_CHECKING:
    from restyle.batching import Item, Window

__all__ = ["BatchSize", "Flight"]

log = logging.getLogger("restyle.batching")


class BatchSize:
    """The largest batch to send to a backend; thread-safe, and it only ever shrinks.

    Example:
        >>> import numpy as np
        >>> size = BatchSize(8)
        >>> size.shrink(np.zeros((6, 2, 2, 3), np.uint8), OutOfMemoryError("full"))
        3
        >>> size.value
        3
    """

    def __init__(self, value: int) -> None:
        self._value = max(1, value)
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def shrink(self, batch: Batch, error: OutOfMemoryError) -> int:
        """Make the size at most half of ``batch``, which ran out of memory; returns the new size.

        Two threads failing on batches of the same size halve it once, not twice.

        Raises:
            OutOfMemoryError: ``error`` itself, when ``batch`` was a single frame.
        """
        if len(batch) <= 1:
            raise error
        with self._lock:
            if len(batch) // 2 < self._value:
                self._value = len(batch) // 2
                log.warning("out of memory on a batch of %d×%d×%d: batch size now %d",
                            len(batch), batch.shape[1], batch.shape[2], self._value)
            return self._value


@dataclass
class Flight:
    """Batches submitted to ``backend`` and the windows waiting for them (one per ``run`` call).

    Args:
        backend: Where batches run.
        size: The shared batch size (a batch larger than it is run synchronously in chunks).
        limit: Batches running at most before the oldest is waited for.
        infer: Runs a batch synchronously, in chunks, shrinking ``size`` on out-of-memory.
        tile: Runs one frame too large for a single pass.
    """

    backend: Backend
    size: BatchSize
    limit: int
    infer: Callable[[Batch], Batch]
    tile: Callable[[Batch], Batch]
    running: deque[tuple[Window, int, Waitable[Batch]]] = field(default_factory=deque)
    waiting: deque[Window] = field(default_factory=deque)

    def add(self, window: Window) -> list[Item]:
        """Submit every batch of ``window``; returns the items of the windows now complete."""
        self.waiting.append(window)
        for b, (_, batch) in enumerate(window.batches):
            self.running.append((window, b, self._submit(batch)))
            if len(self.running) >= self.limit:
                self.finish_oldest()
        return self.ready()

    def finish(self) -> list[Item]:
        """Wait for everything running; returns the items of the remaining windows."""
        self.drain()
        return self.ready()

    def finish_oldest(self) -> None:
        """Wait for the oldest running batch (rerun smaller after out-of-memory), store outputs."""
        window, b, work = self.running.popleft()
        idx, batch = window.batches[b]
        try:
            try:
                out = work.wait()
            except OutOfMemoryError as exc:
                self.size.shrink(batch, exc)
                self.drain()
                out = self.infer(batch)
        except BackendError:
            if not window.keep_errors:
                raise
            self.drain()
            self._one_by_one(window, idx, batch)
        else:
            for k, i in enumerate(idx):
                window.items[i].output = out[k]
        window.remaining -= 1

    def drain(self) -> None:
        """Finish every running batch."""
        while self.running:
            self.finish_oldest()

    def ready(self) -> list[Item]:
        """Items of the complete windows at the head of ``waiting``, tiled frames run first."""
        items: list[Item] = []
        while self.waiting and self.waiting[0].remaining == 0:
            window = self.waiting.popleft()
            if window.tiled:
                self.drain()
            for i in window.tiled:
                try:
                    window.items[i].output = self.tile(window.items[i].rgb)
                except BackendError as exc:
                    if not window.keep_errors:
                        raise
                    window.items[i].error = exc
            items.extend(window.items)
        return items

    def abandon(self) -> None:
        """Wait for every running batch and drop the results (hands device slots back)."""
        self.waiting.clear()
        while self.running:
            _, _, work = self.running.popleft()
            try:
                work.wait()
            except Exception:
                log.debug("error while draining an abandoned batch", exc_info=True)

    def _submit(self, batch: Batch) -> Waitable[Batch]:
        """Start ``batch`` on the backend, or run it synchronously when it no longer fits.

        A backend error is not raised here: it comes back as work whose ``wait`` raises, and is
        settled with its window in :meth:`finish_oldest`.
        """
        while len(batch) <= self.size.value:
            try:
                work = self.backend.submit(batch, block=not self.running)
            except OutOfMemoryError as exc:
                if len(batch) <= 1:
                    return _Failed(exc)
                self.size.shrink(batch, exc)
                break
            except BackendError as exc:
                return _Failed(exc)
            if work is not None:
                return work
            self.finish_oldest()  # no free slot: finish our oldest batch, then try again
        self.drain()
        try:
            return Done(self.infer(batch))
        except BackendError as exc:
            return _Failed(exc)

    def _one_by_one(self, window: Window, idx: list[int], batch: Batch) -> None:
        """After ``batch`` failed: run its frames alone, so the error lands on the frames that
        cause it and the others still get their outputs."""
        for k, i in enumerate(idx):
            try:
                window.items[i].output = self.infer(batch[k:k + 1])[0]
            except BackendError as exc:
                log.warning("frame %s failed: %s", window.items[i].tag, exc)
                window.items[i].error = exc


class _Failed:
    """A batch whose submission failed: :meth:`wait` raises the error."""

    def __init__(self, error: BackendError) -> None:
        self.error = error

    def wait(self) -> Batch:
        raise self.error
