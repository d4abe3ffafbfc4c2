"""The cross-request batcher: batches formed from concurrent requests, grouped by size, oldest
first, withdrawn on cancel, errors handed to each request, close finishing accepted work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.typing import NDArray

from restyle.serve.batcher import Batcher, BatcherClosedError

RGB = NDArray[np.uint8]


def image(h: int, w: int, value: int) -> RGB:
    return np.full((h, w, 3), value, np.uint8)


class Recorder:
    """A model run that inverts images and records each batch's (size, shapes)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[tuple[int, ...]]] = []
        self.gate = gate

    def __call__(self, images: Sequence[RGB]) -> list[RGB]:
        if self.gate is not None:
            self.gate.wait(30)
        shapes = {im.shape for im in images}
        if len(shapes) != 1:
            raise AssertionError(f"a batch mixed sizes: {shapes}")
        self.batches.append([im.shape for im in images])
        return [255 - im for im in images]


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_concurrent_requests_share_one_call() -> None:
    rec = Recorder()

    async def main() -> list[RGB]:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=8, max_wait_ms=5000, on_batch=None)
            outs = await asyncio.gather(*(b.stylize(image(4, 4, v)) for v in range(8)))
            await b.close()
            return list(outs)

    outs = run(main())
    assert [len(batch) for batch in rec.batches] == [8]  # full batch: no waiting for the deadline
    assert [int(o[0, 0, 0]) for o in outs] == [255 - v for v in range(8)]  # each gets its own


def test_sizes_are_grouped_and_oldest_goes_first() -> None:
    rec = Recorder()
    sizes = []

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=4, max_wait_ms=30, on_batch=sizes.append)
            shapes = [(4, 4), (6, 5), (4, 4), (6, 5), (4, 4), (4, 4), (4, 4)]
            outs = await asyncio.gather(*(b.stylize(image(h, w, i)) for i, (h, w) in
                                          enumerate(shapes)))
            for i, (out, (h, w)) in enumerate(zip(outs, shapes, strict=True)):
                assert out.shape == (h, w, 3) and int(out[0, 0, 0]) == 255 - i
            await b.close()

    run(main())
    assert [batch[0][:2] for batch in rec.batches] == [(4, 4), (6, 5), (4, 4)]
    assert sizes == [4, 2, 1]


def test_a_lone_request_runs_after_the_wait() -> None:
    rec = Recorder()

    async def main() -> RGB:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=8, max_wait_ms=1, on_batch=None)
            out = await b.stylize(image(3, 3, 10))
            await b.close()
            return out

    assert int(run(main())[0, 0, 0]) == 245  # type: ignore[index]
    assert [len(x) for x in rec.batches] == [1]


def test_batching_off_runs_one_by_one() -> None:
    rec = Recorder()

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=1, max_wait_ms=50, on_batch=None)
            await asyncio.gather(*(b.stylize(image(4, 4, v)) for v in range(5)))
            await b.close()

    run(main())
    assert [len(x) for x in rec.batches] == [1] * 5


def test_requests_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    gate = threading.Event()
    rec = Recorder(gate)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=8, max_wait_ms=0, on_batch=None)
            first = asyncio.ensure_future(b.stylize(image(4, 4, 0)))
            await asyncio.sleep(0.05)  # the first batch is running (held by the gate)
            rest = [asyncio.ensure_future(b.stylize(image(4, 4, v))) for v in range(1, 6)]
            await asyncio.sleep(0)
            gate.set()
            await asyncio.gather(first, *rest)
            await b.close()

    run(main())
    assert [len(x) for x in rec.batches] == [1, 5]


def test_cancelled_request_is_withdrawn() -> None:
    gate = threading.Event()
    rec = Recorder(gate)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=8, max_wait_ms=0, on_batch=None)
            running = asyncio.ensure_future(b.stylize(image(4, 4, 0)))
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(b.stylize(image(4, 4, 1)), 0.05)  # withdrawn while queued
            kept = asyncio.ensure_future(b.stylize(image(4, 4, 2)))
            await asyncio.sleep(0)
            assert b.waiting == 1
            gate.set()
            await asyncio.gather(running, kept)
            assert int(kept.result()[0, 0, 0]) == 253
            await b.close()

    run(main())
    assert [len(x) for x in rec.batches] == [1, 1]  # the withdrawn image never ran


def test_error_reaches_every_request_of_its_batch_and_the_batcher_lives_on() -> None:
    calls = []

    def flaky(images: Sequence[RGB]) -> list[RGB]:
        calls.append(len(images))
        if len(calls) == 1:
            raise ValueError("backend broke")
        return [im.copy() for im in images]

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(flaky, pool, max_batch=4, max_wait_ms=5000, on_batch=None)
            results = await asyncio.gather(*(b.stylize(image(2, 2, v)) for v in range(4)),
                                           return_exceptions=True)
            assert all(isinstance(r, ValueError) for r in results)
            out = await asyncio.wait_for(b.stylize(image(2, 2, 7)), 10)
            assert int(out[0, 0, 0]) == 7
            await b.close()

    run(main())


def test_close_finishes_accepted_work_then_refuses() -> None:
    gate = threading.Event()
    rec = Recorder(gate)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=2, max_wait_ms=0, on_batch=None)
            jobs = [asyncio.ensure_future(b.stylize(image(4, 4, v))) for v in range(5)]
            await asyncio.sleep(0.05)
            closing = asyncio.ensure_future(b.close())
            await asyncio.sleep(0)
            with pytest.raises(BatcherClosedError):
                await b.stylize(image(4, 4, 9))
            gate.set()
            await closing
            assert [int(j.result()[0, 0, 0]) for j in jobs] == [255 - v for v in range(5)]

    run(main())
    assert sum(len(x) for x in rec.batches) == 5


def test_no_waiting_when_nothing_else_is_on_its_way() -> None:
    rec = Recorder()
    on_the_way = [2]

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(rec, pool, max_batch=8, max_wait_ms=600_000, on_batch=None,
                        arriving=lambda: on_the_way[0])
            first = [asyncio.ensure_future(b.stylize(image(4, 4, v))) for v in range(2)]
            await asyncio.sleep(0.05)
            assert not any(f.done() for f in first)  # two more are being decoded: wait for them
            on_the_way[0] = 0
            late = asyncio.ensure_future(b.stylize(image(4, 4, 2)))  # the last one arrives
            await asyncio.wait_for(asyncio.gather(*first, late), 60)  # a hang guard only
            await b.close()

    run(main())
    assert [len(x) for x in rec.batches] == [3]
