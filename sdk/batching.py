"""Batching: group frames by shape, prefetch in a worker thread, keep batches in flight.

* :func:`shape_batches` groups frames of mixed sizes into batches of one shape each (a resolution
  bucket is one exact ``H×W``: the models are fully convolutional and pad inside the graph, so no
  frame is resized on the host; only frames smaller than a model's own padding allows are
  edge-padded, by :mod:`restyle.backends.checked`).
* :class:`Prefetcher` runs a function over an iterable in a worker thread, a bounded number of
  results ahead of the consumer, in order (a :class:`~restyle.workers.Producer`).
* :class:`BatchRunner` runs windows of prepared frames on a backend: it keeps up to ``in_flight``
  batches submitted before it waits for the oldest (so on a GPU the copies and compute of
  consecutive batches overlap), halves the batch size after an out-of-memory error, and sends
  frames too large for one pass through tiled inference. The batches in flight are a
  :class:`~restyle.flight.Flight`, an explicit state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from restyle.backends.base import Backend, Batch
from restyle.errors import InvalidImageError, OutOfMemoryError, RestyleError
from restyle.flight import BatchSize, Flight
from restyle.images import ImageInput, Prepared, prepare
from restyle.tiling import Tiler, run_tiled
from restyle.workers import Producer

__all__ = ["BatchRunner", "Item", "Prefetcher", "Window", "shape_batches", "windows"]

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


class Prefetcher(Producer[R], Generic[T, R]):
    """``map(fn, items)`` computed in a worker thread, at most ``depth`` results ahead.

    Iterating yields results in order; an exception from ``items`` or ``fn`` is raised at its
    position. :meth:`close` (or leaving the ``with`` block) stops the worker, waiting up to 10 s
    for it to finish its current item (a camera may block it longer: it is then left to end on
    its own).

    Example:
        >>> with Prefetcher(range(4), lambda x: x * x, depth=2) as pre:
        ...     list(pre)
        [0, 1, 4, 9]
    """

    def __init__(self, items: Iterable[T], fn: Callable[[T], R], *, depth: int = 2,
                 name: str = "restyle-prefetch") -> None:
        super().__init__(lambda: map(fn, items), depth=depth, name=name)

    def close(self, *, timeout: float | None = 10.0) -> None:
        super().close(timeout=timeout)


@dataclass
class Item:
    """One frame: the caller's tag, the prepared image or why it failed, and the model output."""

    tag: object
    prepared: Prepared | None = None
    error: RestyleError | None = None
    output: Batch | None = None

    @property
    def rgb(self) -> Batch:
        if self.prepared is None:  # pragma: no cover - failed items are never run
            raise ValueError(f"item {self.tag} has no image")
        return self.prepared.rgb


@dataclass
class Window:
    """Frames prepared together: their shape batches (item indices and the stacked array), the
    frames that need tiling, how many batches are still running, and whether a frame the backend
    fails on is recorded on its item (``keep_errors``) instead of raised."""

    items: list[Item]
    batches: list[tuple[list[int], Batch]]
    tiled: list[int]
    remaining: int = 0
    keep_errors: bool = False


class BatchRunner:
    """Runs prepared frames on a backend: shape batches, batches in flight, out-of-memory retries
    with a halved batch, and tiles for frames too large for one pass. ``finish(output, input)``
    (e.g. painting into a style's shapes, :mod:`restyle.shapes`) runs on each whole output
    frame and returns the frame delivered.

    Example:
        >>> from restyle.backends.ort_cpu import OrtCpuBackend, SessionFromOnnx
        >>> from restyle.styles import resolve_model
        >>> backend = OrtCpuBackend(SessionFromOnnx(resolve_model("sunset")))
        >>> backend.activate()
        >>> runner = BatchRunner(backend, batch_size=8, in_flight=2, max_pixels=1 << 24,
        ...                      tile=1024, overlap=128)
        >>> frames = [(k, np.zeros((48, 64, 3), np.uint8)) for k in range(3)]
        >>> window = runner.window(frames, raise_errors=True)
        >>> [(item.tag, item.output.shape) for item in runner.run([window])]
        [(0, (48, 64, 3)), (1, (48, 64, 3)), (2, (48, 64, 3))]
        >>> backend.close()
    """

    def __init__(self, backend: Backend, *, batch_size: int, in_flight: int, max_pixels: int,
                 tile: int, overlap: int, tiler: Tiler = run_tiled,
                 finish: Callable[[Batch, Batch], Batch] | None = None) -> None:
        self._backend = backend
        self._tiler = tiler
        self._finish = finish
        limit = backend.max_shape
        self._size = BatchSize(min(batch_size, limit[0]) if limit else batch_size)
        self._tile = min(tile, *limit[1:]) if limit else tile
        self._overlap = min(overlap, (self._tile - 1) // 2)
        self._in_flight = in_flight
        self._max_pixels = max_pixels

    @property
    def batch_size(self) -> int:
        """The largest batch sent to the backend (halved after an out-of-memory error)."""
        return self._size.value

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
        return Window(items, batches, tiled, remaining=len(batches), keep_errors=not raise_errors)

    def run(self, source: Iterable[Window]) -> Generator[Item, None, None]:
        """Items of each window, in order, with their outputs.

        Up to ``in_flight`` batches are submitted before the oldest is waited for; the state
        and its transitions are :class:`~restyle.flight.Flight`'s.
        """
        flight = Flight(self._backend, self._size, limit=self._in_flight, infer=self.infer,
                        tile=self._run_tiled)
        try:
            for window in source:
                yield from map(self._finished, flight.add(window))
            yield from map(self._finished, flight.finish())
        finally:
            flight.abandon()  # abandoned early (or failed): hand device slots back

    def _finished(self, item: Item) -> Item:
        """``item`` with ``finish`` applied to its whole output frame (after any tiling)."""
        if self._finish is not None and item.output is not None:
            item.output = self._finish(item.output, item.rgb)
        return item

    def _run_tiled(self, frame: Batch) -> Batch:
        return self._tiler(frame, self.infer, tile=self._tile, overlap=self._overlap)

    def infer(self, batch: Batch) -> Batch:
        """Run ``batch`` synchronously in chunks of the batch size, halving it on out-of-memory.

        Raises:
            OutOfMemoryError: Even a single frame does not fit.
        """
        outs: list[Batch] = []
        i = 0
        while i < len(batch):
            chunk = batch[i:i + self._size.value]
            try:
                outs.append(self._backend.run(chunk))
            except OutOfMemoryError as exc:
                self._size.shrink(chunk, exc)
                continue
            i += len(chunk)
        return outs[0] if len(outs) == 1 else np.concatenate(outs)
