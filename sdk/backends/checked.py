"""The one place every backend's output is checked, and where frames too small for a model are
padded.

:class:`CheckedBackend` wraps any :class:`~restyle.backends.base.Backend` (``Stylizer`` wraps the
one it opens), so no backend has to repeat these rules:

* **Tiny frames.** A model pads inside its graph (reflection padding to a size multiple, padded
  convolutions); a frame narrower than that padding (1×1, 2×2, 1×N …) makes the runtime fail. The
  smallest side a model accepts is measured once, the first time a small frame fails (square
  probes of growing size, smallest first), and from then on every frame with a smaller side is
  edge-padded on the host to that side and the output cropped back. Models that take any size
  are never padded, so their output is exactly what the model computes.
* **Output shape.** Every result must be a uint8 ``N×H×W×3`` batch of the input's shape; a model
  that transposes, crops or drops the batch raises :class:`~restyle.errors.BackendError` naming
  both shapes instead of returning a wrong-sized image.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from restyle.backends.base import Backend, BackendInfo, Batch, Done, Waitable
from restyle.errors import BackendError, OutOfMemoryError

__all__ = ["PROBE_SIDES", "CheckedBackend", "check_output", "pad_to_side"]

log = logging.getLogger("restyle.backends")

#: Square sizes tried, smallest first, to find the smallest side a model accepts. A frame whose
#: smaller side is at least the last one is never padded.
PROBE_SIDES = (1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64)


def pad_to_side(batch: Batch, side: int) -> Batch:
    """``batch`` edge-padded at the bottom and right so both sides are at least ``side``.

    Example:
        >>> pad_to_side(np.zeros((1, 1, 3, 3), np.uint8), 4).shape
        (1, 4, 4, 3)
    """
    h, w = int(batch.shape[1]), int(batch.shape[2])
    if h >= side and w >= side:
        return batch
    pad = ((0, 0), (0, max(0, side - h)), (0, max(0, side - w)), (0, 0))
    return np.ascontiguousarray(np.pad(batch, pad, mode="edge"))


def check_output(out: object, shape: tuple[int, ...], backend: str) -> Batch:
    """``out`` if it is a uint8 batch of ``shape``, else :class:`BackendError` naming both.

    Example:
        >>> check_output(np.zeros((1, 2, 3, 3), np.uint8), (1, 3, 2, 3), "ort_cpu")
        Traceback (most recent call last):
        ...
        restyle.errors.BackendError: ort_cpu returned uint8 (1, 2, 3, 3) for an input of shape (1, 3, 2, 3): ...
    """  # noqa: E501
    if isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == shape:
        return out
    got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
    raise BackendError(f"{backend} returned {got} for an input of shape {shape}: a restyle "
                       "model must return uint8 frames of its input's size (this model "
                       "transposes, crops or resizes): re-export it with `restyle export`")


class _Cropped:
    """Work in flight whose result is checked (and cropped back to the caller's frame size)."""

    def __init__(self, work: Waitable[Batch], checked: CheckedBackend, shape: tuple[int, ...],
                 sent: tuple[int, ...]) -> None:
        self._work, self._checked, self._shape, self._sent = work, checked, shape, sent

    def wait(self) -> Batch:
        return self._checked._finish(self._work.wait(), self._shape, self._sent)


class CheckedBackend:
    """A backend whose inputs are padded when too small and whose outputs are checked.

    Args:
        backend: Any backend.

    Example:
        >>> be = CheckedBackend(open_backend("ort_cpu", source, config)[0])  # doctest: +SKIP
        >>> be.run(np.zeros((1, 1, 1, 3), np.uint8)).shape  # doctest: +SKIP
        (1, 1, 1, 3)
    """

    def __init__(self, backend: Backend) -> None:
        self._inner = backend
        self._min_side = 1  # raised once a probe shows the model needs more
        self._probed = False
        self._lock = threading.Lock()

    @property
    def inner(self) -> Backend:
        """The wrapped backend."""
        return self._inner

    @property
    def info(self) -> BackendInfo:
        return self._inner.info

    @property
    def max_shape(self) -> tuple[int, int, int] | None:
        return self._inner.max_shape

    @property
    def min_side(self) -> int:
        """Smallest frame side sent to the model (1 until a small frame has failed)."""
        return self._min_side

    def run(self, batch: Batch) -> Batch:
        """Run ``batch``; small frames are padded and cropped back, the output is checked."""
        shape = tuple(batch.shape)
        sent = pad_to_side(batch, self._min_side)
        try:
            out = self._inner.run(sent)
        except OutOfMemoryError:
            raise
        except BackendError:
            if not self._retry_padded(shape):
                raise
            sent = pad_to_side(batch, self._min_side)
            out = self._inner.run(sent)
        return self._finish(out, shape, tuple(sent.shape))

    def submit(self, batch: Batch, *, block: bool = True) -> Waitable[Batch] | None:
        """Start ``batch``; frames below the probe sizes run synchronously (they are tiny)."""
        if min(batch.shape[1], batch.shape[2]) < PROBE_SIDES[-1]:
            return Done(self.run(batch))
        work = self._inner.submit(batch, block=block)
        return None if work is None else _Cropped(work, self, tuple(batch.shape),
                                                  tuple(batch.shape))

    def close(self) -> None:
        self._inner.close()

    def _finish(self, out: Batch, shape: tuple[int, ...], sent: tuple[int, ...]) -> Batch:
        out = check_output(out, sent, self._inner.info.name)
        if sent != shape:
            out = np.ascontiguousarray(out[:, :shape[1], :shape[2]])
        return out

    def _retry_padded(self, shape: tuple[int, ...]) -> bool:
        """After a failure on ``shape``: measure the model's smallest side (once) and say
        whether padding to it changes what is sent."""
        if min(shape[1], shape[2]) >= PROBE_SIDES[-1]:
            return False
        with self._lock:
            if not self._probed:
                self._probed = True
                self._min_side = self._probe()
        return min(shape[1], shape[2]) < self._min_side

    def _probe(self) -> int:
        for side in PROBE_SIDES:
            try:
                self._inner.run(np.zeros((1, side, side, 3), np.uint8))
            except OutOfMemoryError:
                raise
            except BackendError:
                continue
            if side > 1:
                log.info("%s: frames smaller than %d px are edge-padded to %d px and cropped "
                         "back (the model's own padding needs that size)", self.info.name,
                         side, side)
            return side
        return 1
