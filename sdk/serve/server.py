"""What one server holds: settings, models, executors, admission and metrics; and the path of
one image through them (decode, shared batch, post-process, encode)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from restyle.serve.config import ServeConfig
from restyle.serve.metrics import Metrics
from restyle.serve.models import ModelPool
from restyle.serve.uploads import decode, finish

__all__ = ["Admission", "Server"]

log = logging.getLogger("restyle.serve")


@dataclass
class Admission:
    """At most ``limit`` requests at once; closed while shutting down."""

    limit: int
    active: int = 0
    closed: bool = False
    on_change: Callable[[int], None] | None = field(default=None, repr=False)

    def enter(self) -> bool:
        """Admit one request, or return False (full or closed)."""
        if self.closed or self.active >= self.limit:
            return False
        self.active += 1
        if self.on_change is not None:
            self.on_change(self.active)
        return True

    def leave(self) -> None:
        """One admitted request is answered."""
        self.active -= 1
        if self.on_change is not None:
            self.on_change(self.active)



class Server:
    """What one app holds: settings, models, executors, admission and metrics."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.infer = ThreadPoolExecutor(1, thread_name_prefix="restyle-infer")
        self.io = ThreadPoolExecutor(2, thread_name_prefix="restyle-io")
        self.admission = Admission(config.max_queue, on_change=self.metrics.in_flight.set)
        self.pool: ModelPool | None = None
        self.arriving = 0  # requests reading or decoding their image: a batch may wait for them
        self.startup_error: BaseException | None = None

    @contextmanager
    def on_the_way(self) -> Iterator[None]:
        """Count a request as arriving (reading or decoding) while the block runs."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    def models(self) -> ModelPool:
        """The model pool (created when the app starts)."""
        if self.pool is None:  # pragma: no cover - the lifespan creates it before any request
            raise RuntimeError("the server has not started")
        return self.pool

    async def start(self) -> None:
        """Create the model pool and load the default model."""
        m = self.metrics
        self.pool = ModelPool(self.config, self.infer,
                              on_batch=lambda name, n: m.batch_size.labels(style=name).observe(n),
                              arriving=lambda: self.arriving)
        m.queue_depth.set_function(lambda: self.pool.waiting if self.pool else 0)
        await self.pool.batcher(None)  # the default model loads before the first request

    def drain(self) -> None:
        """Admit nothing new (503); what was admitted is still answered."""
        self.admission.closed = True

    async def stop(self) -> None:
        """Admit nothing new, finish what waits, release models and threads."""
        self.drain()
        if self.pool is not None:
            await self.pool.close()
        self.io.shutdown(wait=True)
        self.infer.shutdown(wait=True)
        log.info("restyle serve: stopped after finishing every admitted request")

    async def run_io(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the decode/encode threads."""
        return await asyncio.get_running_loop().run_in_executor(self.io, fn, *args)

    async def stylize_bytes(self, data: bytes, *, style: str, strength: float,
                            preserve_color: bool, fmt: str, max_pixels: int) -> bytes:
        """Decode, stylise in a shared batch, post-process and encode one image."""
        with self.on_the_way():
            prepared = await self.run_io(decode, data, max_pixels)
        batcher = await self.models().batcher(style)
        output = await batcher.stylize(prepared.rgb)

        def encode() -> bytes:
            return finish(output, prepared, strength=strength, preserve_color=preserve_color,
                          fmt=fmt)

        result: bytes = await self.run_io(encode)
        return result
