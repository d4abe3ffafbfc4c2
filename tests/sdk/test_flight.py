"""The batches-in-flight state machine, driven directly on a real ONNX Runtime session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from restyle.backends.base import Batch, ModelSource, Waitable
from restyle.backends.ort_cpu import OrtCpuBackend, SessionFromOnnx
from restyle.batching import BatchRunner
from restyle.errors import BackendError, OutOfMemoryError
from restyle.flight import BatchSize, Flight

Reference = Callable[[np.ndarray], np.ndarray]


class _Deferred:
    """Work that runs when waited for, so a test sees what is still in flight."""

    def __init__(self, backend: OrtCpuBackend, batch: Batch, log: list[str]) -> None:
        self._backend, self._batch, self._log = backend, batch, log

    def wait(self) -> Batch:
        self._log.append(f"wait {len(self._batch)}")
        return self._backend.run(self._batch)


class _Recording(OrtCpuBackend):
    """ORT CPU whose ``submit`` defers the run and logs; batches over ``room`` run out of memory."""

    def __init__(self, path: Path, room: int = 64) -> None:
        super().__init__(SessionFromOnnx(path, threads=1), model=ModelSource(path, "onnx"))
        self.activate()
        self.log: list[str] = []
        self.room = room
        self.poison = -1  # a batch holding a frame whose first pixel has this value fails

    def submit(self, batch: Batch, *, block: bool = True) -> Waitable[Batch] | None:
        self.log.append(f"submit {len(batch)}")
        return _Deferred(self, batch, self.log)

    def _run_impl(self, batch: Batch) -> Batch:
        if len(batch) > self.room:
            self.log.append(f"oom {len(batch)}")
            raise OutOfMemoryError(f"{len(batch)} frames do not fit")
        if (batch[:, 0, 0, 0] == self.poison).any():
            self.log.append(f"fail {len(batch)}")
            raise BackendError("the runtime rejected a frame")
        self.log.append(f"run {len(batch)}")
        return super()._run_impl(batch)


def _frames(n: int, shape: tuple[int, int] = (12, 16), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(n)]


def _runner(backend: OrtCpuBackend, batch_size: int = 2, in_flight: int = 2) -> BatchRunner:
    return BatchRunner(backend, batch_size=batch_size, in_flight=in_flight, max_pixels=40 * 40,
                       tile=24, overlap=4)


def _flight(runner: BatchRunner, backend: OrtCpuBackend, limit: int) -> Flight:
    return Flight(backend, runner._size, limit=limit, infer=runner.infer, tile=runner._run_tiled)


def test_add_keeps_at_most_limit_running_and_hands_out_whole_windows(
        tiny_model: Path, ref: Reference) -> None:
    backend = _Recording(tiny_model)
    runner = _runner(backend, batch_size=2)
    flight = _flight(runner, backend, limit=2)
    frames = _frames(5)
    window = runner.window(list(enumerate(frames)), raise_errors=True)  # batches of 2, 2, 1
    assert [len(idx) for idx, _ in window.batches] == [2, 2, 1]

    done = flight.add(window)
    # The third submit came after the oldest batch was waited for: never more than 2 running.
    assert backend.log == ["submit 2", "submit 2", "wait 2", "run 2", "submit 1", "wait 2",
                           "run 2"]
    assert done == [] and len(flight.running) == 1 and list(flight.waiting) == [window]
    assert window.remaining == 1

    done = flight.finish()
    assert not flight.running and not flight.waiting and window.remaining == 0
    assert [item.tag for item in done] == [0, 1, 2, 3, 4]
    for item, frame in zip(done, frames, strict=True):
        assert item.output is not None
        np.testing.assert_array_equal(item.output, ref(frame[None])[0])


def test_a_batch_out_of_memory_is_rerun_smaller(tiny_model: Path, ref: Reference) -> None:
    backend = _Recording(tiny_model, room=2)
    runner = _runner(backend, batch_size=4)
    flight = _flight(runner, backend, limit=4)
    frames = _frames(4)
    window = runner.window(list(enumerate(frames)), raise_errors=True)
    done = flight.add(window) + flight.finish()
    assert runner.batch_size == 2
    # Rerun synchronously in two chunks of the halved size.
    assert backend.log == ["submit 4", "wait 4", "oom 4", "run 2", "run 2"]
    for item, frame in zip(done, frames, strict=True):
        assert item.output is not None
        np.testing.assert_array_equal(item.output, ref(frame[None])[0])


def test_tiled_frames_wait_for_the_batches_in_flight(tiny_model: Path, ref: Reference) -> None:
    backend = _Recording(tiny_model)
    runner = _runner(backend, batch_size=2)
    flight = _flight(runner, backend, limit=8)
    big = _frames(1, shape=(50, 60), seed=3)[0]  # over max_pixels: tiled
    entries = [(0, _frames(1)[0]), (1, big), (2, _frames(1, seed=1)[0])]
    window = runner.window(entries, raise_errors=True)
    assert window.tiled == [1]
    assert flight.add(window) == [] and len(flight.running) == 1
    done = flight.finish()
    assert [item.tag for item in done] == [0, 1, 2] and not flight.running
    # The batch in flight was finished before the tiles ran (synchronously, on the backend).
    assert backend.log[:3] == ["submit 2", "wait 2", "run 2"]
    assert len(backend.log) > 4 and all(e.startswith("run ") for e in backend.log[3:])
    assert done[1].output is not None
    diff = np.abs(done[1].output.astype(int) - ref(big[None])[0].astype(int))
    assert diff.max() <= 1  # tiles are blended across their overlap


def test_abandon_waits_for_everything_running(tiny_model: Path) -> None:
    backend = _Recording(tiny_model)
    runner = _runner(backend, batch_size=1)
    flight = _flight(runner, backend, limit=8)
    flight.add(runner.window(list(enumerate(_frames(3))), raise_errors=True))
    assert len(flight.running) == 3
    flight.abandon()
    assert not flight.running and not flight.waiting
    assert backend.log.count("wait 1") == 3


def test_run_abandoned_early_leaves_nothing_in_flight(tiny_model: Path) -> None:
    backend = _Recording(tiny_model)
    runner = _runner(backend, batch_size=1, in_flight=4)
    windows = [runner.window([(k, f)], raise_errors=True) for k, f in enumerate(_frames(6))]
    items = runner.run(iter(windows))
    assert next(items).tag == 0
    items.close()
    assert backend.log.count("submit 1") == backend.log.count("wait 1")


def test_batch_size_only_shrinks_and_halves_once_for_equal_failures() -> None:
    size = BatchSize(8)
    batch = np.zeros((8, 2, 2, 3), np.uint8)
    threads = [threading.Thread(target=size.shrink, args=(batch, OutOfMemoryError("x")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert size.value == 4
    assert size.shrink(np.zeros((16, 2, 2, 3), np.uint8), OutOfMemoryError("x")) == 4
    assert size.shrink(np.zeros((3, 2, 2, 3), np.uint8), OutOfMemoryError("x")) == 1
    with pytest.raises(OutOfMemoryError, match="one frame"):
        size.shrink(np.zeros((1, 2, 2, 3), np.uint8), OutOfMemoryError("one frame"))


def _poisoned(n: int, bad: int, shape: tuple[int, int] = (12, 16)) -> list[np.ndarray]:
    frames = _frames(n, shape)
    for k, f in enumerate(frames):
        f[0, 0, 0] = 13 if k == bad else 200
    return frames


def test_a_failing_frame_is_recorded_and_the_others_run(tiny_model: Path, ref: Reference) -> None:
    backend = _Recording(tiny_model)
    backend.poison = 13
    runner = _runner(backend, batch_size=4)
    frames = _poisoned(6, bad=2)
    big = _frames(1, shape=(50, 60), seed=3)[0]
    big[0, 0, 0] = 13  # a tiled frame that fails too
    entries = [*enumerate(frames), (6, big)]
    window = runner.window(entries, raise_errors=False)
    assert window.keep_errors and window.tiled == [6]
    items = list(runner.run([window]))
    assert [item.tag for item in items] == list(range(7))
    failed = {item.tag for item in items if item.error is not None}
    assert failed == {2, 6}
    for item in items:
        if item.error is None:
            assert item.output is not None
            np.testing.assert_array_equal(item.output, ref(frames[cast(int, item.tag)][None])[0])
        else:
            assert isinstance(item.error, BackendError) and item.output is None
    assert "fail 4" in backend.log  # the batch failed, then its frames ran one by one


def test_a_failing_frame_raises_where_errors_are_not_kept(tiny_model: Path) -> None:
    backend = _Recording(tiny_model)
    backend.poison = 13
    runner = _runner(backend, batch_size=4)
    window = runner.window(list(enumerate(_poisoned(4, bad=1))), raise_errors=True)
    with pytest.raises(BackendError, match="rejected"):
        list(runner.run([window]))
    assert backend.log.count("submit 4") == backend.log.count("wait 4")  # nothing left running
