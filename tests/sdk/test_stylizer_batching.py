"""Batching helpers behind the Stylizer: shape buckets, windows, the prefetch thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from restyle.batching import Prefetcher, shape_batches, windows


def test_shape_batches_group_equal_shapes_in_chunks() -> None:
    shapes = [(4, 4), (8, 8), (4, 4), (4, 4), (8, 8), (4, 4), (2, 2)]
    batches = shape_batches(shapes, 2)
    assert batches == [[0, 2], [3, 5], [1, 4], [6]]
    assert sorted(i for b in batches for i in b) == list(range(len(shapes)))
    assert all(len({shapes[i] for i in b}) == 1 for b in batches)


def test_windows() -> None:
    assert list(windows(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(windows([], 3)) == []


def test_prefetcher_keeps_order_and_runs_in_another_thread() -> None:
    seen: set[str] = set()

    def square(x: int) -> int:
        seen.add(threading.current_thread().name)
        return x * x

    with Prefetcher(range(50), square, depth=3, name="test-prefetch") as pre:
        assert list(pre) == [x * x for x in range(50)]
    assert seen == {"test-prefetch"}


def test_prefetcher_raises_errors_in_order() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("camera unplugged")

    got = []
    with Prefetcher(items(), lambda x: x, depth=1) as pre, \
            pytest.raises(OSError, match="camera unplugged"):
        for value in pre:
            got.append(value)
    assert got == [1, 2]


def test_prefetcher_stops_early_and_reads_a_bounded_amount() -> None:
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        while True:
            pulled += 1
            yield pulled

    pre = Prefetcher(endless(), lambda x: x, depth=2)
    first = next(iter(pre))
    pre.close()
    assert first == 1 and pulled <= 5
    assert not pre._thread.is_alive()
