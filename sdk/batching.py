"""Batching: group frames by shape, prefetch in a worker thread, keep batches in flight.

* :func:`shape_batches` groups frames of mixed sizes into batches of one shape each (a resolution
  bucket is one exact ``H×W``: the models are fully convolutional and pad inside the graph, so no
  frame is resized or padded on the host).
* :class:`Prefetcher` runs a function over an iterable in a worker thread, a bounded number of
  results ahead of the consumer, in order.
* :class:`BatchRunner` runs windows of prepared frames on a backend: it keeps up to ``in_flight``
  batches submitted before it waits for the oldest (so on a GPU the copies and compute of
  consecutive batches overlap), halves the batch size after an out-of-memory error, and sends
  frames too large for one pass through tiled inference.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar, cast

import numpy as np

from restyle.backends.base import Backend, Batch, Waitable
from restyle.errors import InvalidImageError, OutOfMemoryError
from restyle.images import ImageInput, Prepared, prepare
from restyle.tiling import Tiler, run_tiled

__all__ = ["BatchRunner", "Item", "Prefetcher", "Window", "shape_batches", "windows"]

log = logging.getLogger("restyle.batching")

T = TypeVar("T")
R = TypeVar("R")


def shape_batches(shapes: Sequence[tuple[int, ...]], batch_size: int) -> list[list[int]]:
    """Indices of ``shapes`` grouped by equal shape, in chunks of at most ``batch_size``.

    Groups come in order of each shape's first appearance; indices keep their order within one.

    Example:
        >>> shape_batches([(2, 2), (3, 3), (2, 2), (2, 2)], 2)
        [[0, 2], [3], [1]]
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(tuple(shape), []).append(i)
    size = max(1, batch_size)
    return [idx[k:k + size] for idx in groups.values() for k in range(0, len(idx), size)]


def windows(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter).

    Example:
        >>> list(windows(range(5), 2))
        [[0, 1], [2, 3], [4]]
    """
    window: list[T] = []
    for item in items:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


_END = object()


class Prefetcher(Generic[T, R]):
    """``map(fn, items)`` computed in a worker thread, at most ``depth`` results ahead.

    Iterating yields results in order; an exception from ``items`` or ``fn`` is raised at its
    position. :meth:`close` (or leaving the ``with`` block) stops the worker.

    Example:
        >>> with Prefetcher(range(4), lambda x: x * x, depth=2) as pre:
        ...     list(pre)
        [0, 1, 4, 9]
    """

    def __init__(self, items: Iterable[T], fn: Callable[[T], R], *, depth: int = 2,
                 name: str = "restyle-prefetch") -> None:
        self._queue: queue.Queue[tuple[object, R | None, BaseException | None]] = queue.Queue(
            maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(items, fn), name=name,
                                        daemon=True)
        self._thread.start()

    def _put(self, entry: tuple[object, R | None, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, items: Iterable[T], fn: Callable[[T], R]) -> None:
        try:
            for item in items:
                if self._stop.is_set() or not self._put((None, fn(item), None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put((None, None, exc))
            return
        self._put((_END, None, None))

    def __iter__(self) -> Iterator[R]:
        while True:
            marker, value, error = self._queue.get()
            if error is not None:
                raise error
            if marker is _END:
                return
            yield cast(R, value)  # None only comes with the end marker or an error

    def close(self, *, timeout: float = 10.0) -> None:
        """Stop the worker and wait up to ``timeout`` seconds for it to finish its current item.

        A worker blocked inside the caller's iterator (a camera waiting for a frame) is left to
        end on its own; it is a daemon thread and holds nothing of ours.
        """
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout)

    def __enter__(self) -> Prefetcher[T, R]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass
class Item:
    """One frame: the caller's tag, the prepared image or why it failed, and the model output."""

    tag: object
    prepared: Prepared | None = None
    error: InvalidImageError | None = None
    output: Batch | None = None

    @property
    def rgb(self) -> Batch:
        if self.prepared is None:  # pragma: no cover - failed items are never run
            raise ValueError(f"item {self.tag} has no image")
        return self.prepared.rgb


@dataclass
class Window:
    """Frames prepared together: their shape batches (item indices and the stacked array), the
    frames that need tiling, and how many batches are still running."""

    items: list[Item]
    batches: list[tuple[list[int], Batch]]
    tiled: list[int]
    remaining: int = 0


class BatchRunner:
    """Runs prepared frames on a backend: shape batches, batches in flight, out-of-memory retries
    with a halved batch, and tiles for frames too large for one pass.

    Example:
        >>> runner = BatchRunner(backend, batch_size=8, in_flight=2, max_pixels=1 << 24,
        ...                      tile=1024, overlap=128)  # doctest: +SKIP
        >>> window = runner.window([(0, image)], raise_errors=True)  # doctest: +SKIP
        >>> [item.output.shape for item in runner.run([window])]  # doctest: +SKIP
        [(512, 512, 3)]
    """

    def __init__(self, backend: Backend, *, batch_size: int, in_flight: int, max_pixels: int,
                 tile: int, overlap: int, tiler: Tiler = run_tiled) -> None:
        self._backend = backend
        self._tiler = tiler
        limit = backend.max_shape
        self.batch_size = min(batch_size, limit[0]) if limit else batch_size
        self._tile = min(tile, *limit[1:]) if limit else tile
        self._overlap = min(overlap, (self._tile - 1) // 2)
        self._in_flight = in_flight
        self._max_pixels = max_pixels

    def needs_tiles(self, shape: tuple[int, int]) -> bool:
        """Whether a frame of ``shape`` (H, W) is too large for one pass."""
        h, w = shape
        limit = self._backend.max_shape
        return h * w > self._max_pixels or bool(limit and (h > limit[1] or w > limit[2]))

    def window(self, entries: Sequence[tuple[object, ImageInput]], *,
               raise_errors: bool) -> Window:
        """Prepare ``(tag, image)`` entries and group them into shape batches.

        Raises:
            InvalidImageError: With ``raise_errors``, for the first unusable image (naming its
                tag); otherwise the error is kept on its item.
        """
        items: list[Item] = []
        for tag, image in entries:
            try:
                items.append(Item(tag, prepared=prepare(image)))
            except InvalidImageError as exc:
                if raise_errors:
                    raise InvalidImageError(f"image {tag}: {exc}") from exc
                items.append(Item(tag, error=exc))
        shapes = {i: (int(it.rgb.shape[0]), int(it.rgb.shape[1]))
                  for i, it in enumerate(items) if it.prepared is not None}
        tiled = [i for i, shape in shapes.items() if self.needs_tiles(shape)]
        plain = [i for i in shapes if i not in set(tiled)]
        batches = []
        for group in shape_batches([shapes[i] for i in plain], self.batch_size):
            idx = [plain[g] for g in group]
            batches.append((idx, np.stack([items[i].rgb for i in idx])))
        return Window(items, batches, tiled, remaining=len(batches))

    def run(self, source: Iterable[Window]) -> Iterator[Item]:
        """Items of each window, in order, with their outputs.

        Up to ``in_flight`` batches are submitted before the oldest is waited for. Whenever work
        must run synchronously (a tiled frame, a retry after out-of-memory) everything in flight
        is finished first, so this thread never waits for a device slot while holding one.
        """
        flight: deque[tuple[Window, int, Waitable[Batch] | Batch]] = deque()
        pending: deque[Window] = deque()

        def drain() -> None:
            while flight:
                complete()

        def complete() -> None:
            win, b, work = flight.popleft()
            idx, arr = win.batches[b]
            if isinstance(work, np.ndarray):
                out = work
            else:
                try:
                    out = work.wait()
                except OutOfMemoryError as exc:
                    self._shrink(arr, exc)
                    drain()
                    out = self.infer(arr)
            for k, i in enumerate(idx):
                win.items[i].output = out[k]
            win.remaining -= 1

        def submit(arr: Batch) -> Waitable[Batch] | Batch:
            while len(arr) <= self.batch_size:
                try:
                    work = self._backend.submit(arr, block=not flight)
                except OutOfMemoryError as exc:
                    self._shrink(arr, exc)
                    break
                if work is not None:
                    return work
                complete()  # no free slot: finish our oldest batch, then try again
            drain()
            return self.infer(arr)

        def ready() -> Iterator[Item]:
            while pending and pending[0].remaining == 0:
                win = pending.popleft()
                if win.tiled:
                    drain()
                for i in win.tiled:
                    win.items[i].output = self._tiler(win.items[i].rgb, self.infer,
                                                      tile=self._tile, overlap=self._overlap)
                yield from win.items

        try:
            for win in source:
                pending.append(win)
                for b, (_, arr) in enumerate(win.batches):
                    flight.append((win, b, submit(arr)))
                    if len(flight) >= self._in_flight:
                        complete()
                    yield from ready()
                yield from ready()
            drain()
            yield from ready()
        finally:
            while flight:  # abandoned early: hand device slots back
                _, _, work = flight.popleft()
                if not isinstance(work, np.ndarray):
                    try:
                        work.wait()
                    except Exception:
                        log.debug("error while draining an abandoned batch", exc_info=True)

    def infer(self, batch: Batch) -> Batch:
        """Run ``batch`` synchronously in chunks of the batch size, halving it on out-of-memory.

        Raises:
            OutOfMemoryError: Even a single frame does not fit.
        """
        outs: list[Batch] = []
        i = 0
        while i < len(batch):
            chunk = batch[i:i + self.batch_size]
            try:
                outs.append(self._backend.run(chunk))
            except OutOfMemoryError as exc:
                self._shrink(chunk, exc)
                continue
            i += len(chunk)
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _shrink(self, batch: Batch, error: OutOfMemoryError) -> None:
        """Halve the batch size after ``batch`` ran out of memory (re-raise for one frame)."""
        size = min(self.batch_size, len(batch))
        if size <= 1:
            raise error
        self.batch_size = size // 2
        log.warning("out of memory on a batch of %d×%d×%d: batch size now %d", len(batch),
                    batch.shape[1], batch.shape[2], self.batch_size)
