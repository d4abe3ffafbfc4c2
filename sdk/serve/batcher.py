"""Batching across requests: concurrent requests for one model become one backend call.

Each request's image waits in the :class:`Batcher` of its model. A collector task on the event
loop takes the oldest waiting image, lets up to ``max_wait_ms`` pass for others **of the same
size** to arrive (the models are fully convolutional, so images are never resized or padded to
share a batch: a batch is always one exact ``H×W``), and hands at most ``max_batch`` of them to
:meth:`restyle.Stylizer.stylize_batch` in one call on the inference executor. Images of other
sizes wait for a later batch; the oldest image always goes first, so none starves. The wait
ends early when no other request is on its way (being read or decoded): then nothing but a new
request could join, and a lone client is not made to wait.

While a batch runs, new requests gather, so the next batch forms at once from them: under load
batches grow by themselves, and a lone request waits at most ``max_wait_ms``.

There is no queue of its own to grow without bound: the server admits at most ``max_queue``
requests at once (:class:`restyle.serve.server.Admission`) and answers 503 beyond that.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["Batcher", "BatcherClosedError"]

log = logging.getLogger("restyle.serve")

RGB = NDArray[np.uint8]
RunBatch = Callable[[Sequence[RGB]], list[RGB]]


class BatcherClosedError(RuntimeError):
    """The server is shutting down and accepts no new work."""


@dataclass
class _Job:
    rgb: RGB
    future: asyncio.Future[RGB]
    arrived: float
    shape: tuple[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.shape = (int(self.rgb.shape[0]), int(self.rgb.shape[1]))


class Batcher:
    """Collects concurrent images for one model into batches and runs them on ``executor``.

    Args:
        run: Stylises a list of same-size ``H×W×3`` uint8 images, returns the outputs in order
            (``Stylizer.stylize_batch`` at full strength).
        executor: Where ``run`` is called (the server's inference threads).
        max_batch: Largest batch.
        max_wait_ms: Longest the oldest image waits for others to join.
        on_batch: Called with each batch's size (metrics).
        arriving: How many more images are on their way (being read or decoded); the wait for
            company ends early when none is, since then only a new request could join.

    Example:
        >>> batcher = Batcher(st.stylize_batch, executor, max_batch=8,
        ...                   max_wait_ms=10)  # doctest: +SKIP
        >>> out = await batcher.stylize(rgb)  # doctest: +SKIP
        >>> await batcher.close()  # doctest: +SKIP
    """

    def __init__(self, run: RunBatch, executor: Executor, *, max_batch: int, max_wait_ms: float,
                 on_batch: Callable[[int], None] | None = None,
                 arriving: Callable[[], int] | None = None) -> None:
        self._run = run
        self._executor = executor
        self._max_batch = max(1, max_batch)
        self._max_wait = max(0.0, max_wait_ms) / 1000.0
        self._on_batch = on_batch
        self._arriving = arriving
        self._jobs: deque[_Job] = deque()
        self._arrived = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            self._collect(), name="restyle-batcher")

    @property
    def waiting(self) -> int:
        """Images waiting for a batch (not yet running)."""
        return sum(1 for job in self._jobs if not job.future.done())

    async def stylize(self, rgb: RGB) -> RGB:
        """The model's output for ``rgb`` (``H×W×3`` uint8), computed in a shared batch.

        Cancelling the caller (a timeout, a client gone) withdraws the image if its batch has
        not started.

        Raises:
            BatcherClosedError: :meth:`close` was called.
            Exception: Whatever the model run raised for this image's batch.
        """
        if self._closing:
            raise BatcherClosedError("the server is shutting down")
        loop = asyncio.get_running_loop()
        job = _Job(rgb, loop.create_future(), loop.time())
        self._jobs.append(job)
        self._arrived.set()
        return await job.future

    async def close(self) -> None:
        """Accept nothing new, finish every image already waiting, then stop the collector."""
        self._closing = True
        self._arrived.set()
        await self._task

    # --- the collector -----------------------------------------------------------------------

    def _drop_done(self) -> None:
        while self._jobs and self._jobs[0].future.done():  # withdrawn (cancelled) images
            self._jobs.popleft()

    def _same_shape(self, shape: tuple[int, int]) -> int:
        return sum(1 for job in self._jobs if job.shape == shape and not job.future.done())

    def _take(self, shape: tuple[int, int]) -> list[_Job]:
        batch: list[_Job] = []
        rest: deque[_Job] = deque()
        for job in self._jobs:
            if job.future.done():
                continue
            if job.shape == shape and len(batch) < self._max_batch:
                batch.append(job)
            else:
                rest.append(job)
        self._jobs = rest
        return batch

    async def _next_batch(self) -> list[_Job] | None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_done()
            if not self._jobs:
                if self._closing:
                    return None
                self._arrived.clear()
                await self._arrived.wait()
                continue
            first = self._jobs[0]
            deadline = first.arrived + self._max_wait
            while (not self._closing and not first.future.done()
                   and self._same_shape(first.shape) < self._max_batch):
                remaining = deadline - loop.time()
                if remaining <= 0 or (self._arriving is not None and self._arriving() == 0):
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            if first.future.done():
                continue  # the oldest was withdrawn while waiting: start over
            return self._take(first.shape)

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            if self._on_batch is not None:
                self._on_batch(len(batch))
            try:
                outs = await loop.run_in_executor(self._executor, self._run,
                                                  [job.rgb for job in batch])
            except Exception as exc:  # handed to each request of the batch, answered there
                log.debug("batch of %d failed", len(batch), exc_info=True)
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            for job, out in zip(batch, outs, strict=True):
                if not job.future.done():
                    job.future.set_result(out)
