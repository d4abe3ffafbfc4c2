"""The one worker-thread-with-queue mechanism: order, bounded read-ahead, errors, close."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from restyle.workers import Consumer, Producer


def test_producer_runs_on_its_thread_in_order() -> None:
    names: set[str] = set()

    def produce() -> Iterator[int]:
        for x in range(20):
            names.add(threading.current_thread().name)
            yield x

    with Producer(produce, depth=3, name="test-producer") as items:
        assert list(items) == list(range(20))
        assert items.get() is None  # the end is sticky
    assert names == {"test-producer"}


def test_producer_error_is_raised_at_its_position_and_stays() -> None:
    def produce() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    with Producer(produce, depth=1) as items:
        assert items.get() == 1
        with pytest.raises(OSError, match="disk gone"):
            items.get()
        with pytest.raises(OSError, match="disk gone"):
            items.get()


def test_producer_close_stops_early_and_closes_the_generator() -> None:
    closed = threading.Event()
    pulled = 0

    def produce() -> Iterator[int]:
        nonlocal pulled
        try:
            while True:
                pulled += 1
                yield pulled
        finally:
            closed.set()

    items = Producer(produce, depth=2)
    assert items.get() == 1
    items.close()
    assert not items._thread.is_alive() and closed.is_set() and pulled <= 5


def test_consumer_consumes_in_order_and_ends() -> None:
    seen: list[object] = []
    names: set[str] = set()

    def consume(x: int) -> None:
        names.add(threading.current_thread().name)
        seen.append(x)

    with Consumer(consume, on_end=lambda: seen.append("end"),
                  on_stop=lambda: seen.append("stop"), depth=2, name="test-consumer") as sink:
        for x in range(10):
            sink.put(x)
        sink.finish()
    assert seen == [*range(10), "end"] and names == {"test-consumer"}


def test_consumer_error_reaches_put_and_finish_and_undoes() -> None:
    undone = threading.Event()

    def consume(x: int) -> None:
        if x == 3:
            raise ValueError("frame 3 is bad")

    sink = Consumer(consume, on_stop=undone.set, depth=1)
    with pytest.raises(ValueError, match="frame 3"):
        for x in range(1000):
            sink.put(x)
    assert undone.wait(5)
    with pytest.raises(ValueError, match="frame 3"):
        sink.finish()
    sink.close()


def test_consumer_close_drops_the_queue_and_runs_on_stop() -> None:
    seen: list[int] = []
    stopped = threading.Event()

    def consume(x: int) -> None:
        time.sleep(0.01)
        seen.append(x)

    sink = Consumer(consume, on_end=lambda: seen.append(-1), on_stop=stopped.set, depth=8)
    for x in range(8):
        sink.put(x)
    sink.close()
    assert stopped.is_set() and -1 not in seen and not sink._thread.is_alive()
    with pytest.raises(RuntimeError, match="stopped"):
        sink.put(99)
