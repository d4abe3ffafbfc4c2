"""The CUDA module: stream adoption (anywhere), and buffers, events, graphs on a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from restyle.cuda import available_bindings, get_runtime, stream_handle
from restyle.cuda.buffers import GrowingBuffer, SlotPool
from restyle.errors import ConfigError, DependencyError


class _TorchLike:
    cuda_stream = 0x1234


class _CupyLike:
    ptr = 0x2345


class _PycudaLike:
    handle = 0x3456


class _Protocol:
    def __cuda_stream__(self) -> tuple[int, int]:
        return (0, 0x4567)


def test_stream_handles_from_every_kind_of_stream_object() -> None:
    assert stream_handle(0) == 0 and stream_handle(0x99) == 0x99
    assert stream_handle(_TorchLike()) == 0x1234
    assert stream_handle(_CupyLike()) == 0x2345
    assert stream_handle(_PycudaLike()) == 0x3456
    assert stream_handle(_Protocol()) == 0x4567
    for bad in (True, "stream", 1.5, object()):
        with pytest.raises(ConfigError, match="stream"):
            stream_handle(bad)


def test_unknown_or_missing_binding() -> None:
    with pytest.raises(ConfigError, match="cuda-python or pycuda"):
        get_runtime("cudart2")
    if not available_bindings():
        with pytest.raises(DependencyError, match="restyle\\[gpu\\]"):
            get_runtime("auto")


def _runtime(impl: str):  # type: ignore[no-untyped-def]
    if impl not in available_bindings():
        pytest.skip(f"{impl} is not installed")
    return get_runtime(impl, device=0)


IMPLS = pytest.mark.parametrize("impl", ["cuda-python", "pycuda"])


@pytest.mark.gpu
@IMPLS
def test_pinned_round_trip_on_a_stream(impl: str) -> None:
    rt = _runtime(impl)
    data = np.random.default_rng(0).integers(0, 256, 3 << 20, dtype=np.uint8)
    with rt.stream() as stream, rt.host_alloc(data.nbytes) as src, \
            rt.host_alloc(data.nbytes) as dst, rt.device_alloc(data.nbytes) as dev:
        src.view(data.nbytes)[:] = data
        rt.copy_h2d(dev, src, data.nbytes, stream)
        rt.copy_d2h(dst, dev, data.nbytes, stream)
        with rt.event() as done:
            done.record(stream)
            done.synchronize()
        np.testing.assert_array_equal(dst.view(data.nbytes), data)
        assert stream.handle != 0


@pytest.mark.gpu
@IMPLS
def test_events_order_two_streams(impl: str) -> None:
    rt = _runtime(impl)
    n = 8 << 20
    with rt.stream() as a, rt.stream() as b, rt.host_alloc(n) as host, rt.host_alloc(n) as back, \
            rt.device_alloc(n) as dev, rt.event() as copied:
        host.view(n)[:] = 7
        rt.copy_h2d(dev, host, n, a)
        copied.record(a)
        b.wait_event(copied)  # b's copy back must see a's upload
        rt.copy_d2h(back, dev, n, b)
        b.synchronize()
        assert (back.view(n) == 7).all()


@pytest.mark.gpu
@IMPLS
def test_buffers_grow_only_for_larger_batches(impl: str) -> None:
    rt = _runtime(impl)
    with GrowingBuffer(rt) as buf:
        buf.ensure(1000)
        first = buf.device.ptr, buf.capacity
        buf.ensure(900)
        assert (buf.device.ptr, buf.capacity) == first
        buf.ensure(first[1] + 1)
        assert buf.capacity > first[1]


@pytest.mark.gpu
@IMPLS
def test_slot_pool_hands_out_each_slot_once(impl: str) -> None:
    rt = _runtime(impl)
    with SlotPool(rt, 2) as pool:
        a, b = pool.acquire(block=True), pool.acquire(block=True)
        assert a is not None and b is not None and a is not b
        assert a.stream.handle != b.stream.handle
        assert pool.acquire(block=False) is None
        pool.release(a)
        assert pool.acquire(block=False) is a


@pytest.mark.gpu
@IMPLS
def test_graph_capture_replays_the_work(impl: str) -> None:
    rt = _runtime(impl)
    n = 1 << 20
    with rt.stream() as s, rt.host_alloc(n) as host, rt.host_alloc(n) as back, \
            rt.device_alloc(n) as dev:
        def work() -> None:
            rt.copy_h2d(dev, host, n, s)
            rt.copy_d2h(back, dev, n, s)

        try:
            graph = rt.capture(s, work)
        except Exception as exc:  # pycuda without capture support says so
            if "graph capture" in str(exc):
                pytest.skip(str(exc))
            raise
        with graph:
            for value in (3, 11):
                host.view(n)[:] = value
                graph.launch(s)
                s.synchronize()
                assert (back.view(n) == value).all()


@pytest.mark.gpu
def test_external_stream_is_adopted_not_owned() -> None:
    rt = _runtime("cuda-python")
    cp = pytest.importorskip("cupy")
    external = cp.cuda.Stream(non_blocking=True)
    adopted = rt.stream(external)
    assert adopted.handle == external.ptr
    adopted.close()  # must not destroy the application's stream
    external.synchronize()
