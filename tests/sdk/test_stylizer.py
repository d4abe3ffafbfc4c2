"""``Stylizer`` on the CPU: kinds in and out, batches, streams, threads, options, errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from restyle import Stylizer
from restyle.backends.base import Backend, BackendConfig, Batch, ModelSource, Waitable
from restyle.backends.ort_cpu import OrtCpuBackend, SessionFromOnnx
from restyle.backends.registry import register_backend
from restyle.errors import ConfigError, InvalidImageError, OutOfMemoryError
from restyle.postprocess import rgb_to_ycbcr

Reference = Callable[[np.ndarray], np.ndarray]


def _diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


@pytest.fixture(scope="module")
def st(tiny_model: Path) -> Iterator[Stylizer]:
    with Stylizer(tiny_model, backend="ort_cpu", batch_size=4) as stylizer:
        yield stylizer


def test_returns_the_kind_it_was_given(st: Stylizer, photo: np.ndarray, ref: Reference,
                                       tmp_path: Path) -> None:
    expected = ref(photo[None])[0]
    out = st(photo)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == photo.shape
    assert _diff(out, expected) <= 1

    pil = st(Image.fromarray(photo))
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (128, 96)
    np.testing.assert_array_equal(np.asarray(pil), out)

    floats = st(photo.astype(np.float32) / 255)
    assert isinstance(floats, np.ndarray) and floats.dtype == np.float32
    np.testing.assert_allclose(floats, out / 255, atol=1e-6)

    Image.fromarray(photo).save(tmp_path / "p.png")
    from_path = st(tmp_path / "p.png")
    assert isinstance(from_path, Image.Image)
    np.testing.assert_array_equal(np.asarray(from_path), out)


def test_rgba_keeps_its_alpha(st: Stylizer, photo: np.ndarray) -> None:
    alpha = np.linspace(0, 255, photo.shape[0] * photo.shape[1]).astype(np.uint8)
    rgba = np.dstack([photo, alpha.reshape(photo.shape[:2])])
    out = st(Image.fromarray(rgba))
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(np.asarray(out)[..., :3], st(photo))


def test_batch_equals_single_and_keeps_order_with_mixed_sizes(st: Stylizer,
                                                              photo: np.ndarray) -> None:
    images = [photo, photo[:40], photo[:, :50], photo[10:50, 5:70], photo, photo[:40][::-1]]
    batch = st.stylize_batch(images)
    assert [b.shape for b in batch] == [i.shape for i in images]
    for image, out in zip(images, batch, strict=True):
        np.testing.assert_array_equal(out, st(image))
    assert st.stylize_batch([]) == []


def test_stream_keeps_order_over_many_mixed_frames(st: Stylizer, ref: Reference) -> None:
    rng = np.random.default_rng(5)
    sizes = [(16, 24), (20, 20), (16, 24), (9, 31)]
    frames = [rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8) for i in range(37)]
    outs = list(st.stream(iter(frames)))
    assert len(outs) == len(frames)
    for frame, out in zip(frames, outs, strict=True):
        assert out.shape == frame.shape
        assert _diff(out, ref(frame[None])[0]) <= 1


def test_stream_is_lazy_and_bounded(st: Stylizer) -> None:
    pulled = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield np.full((8, 8, 3), i % 256, np.uint8)

    stream = st.stream(frames())
    for _ in range(5):
        next(stream)
    stream.close()
    # batch 4, prefetch 2, two batches in flight: far fewer than all frames were read
    assert pulled < 60


def test_stream_raises_at_a_bad_frame_in_order(st: Stylizer) -> None:
    good = np.zeros((8, 8, 3), np.uint8)
    got = []
    with pytest.raises(InvalidImageError, match="outside"):
        for out in st.stream([good, good, np.full((8, 8, 3), 2.0, np.float32), good]):
            got.append(out)
    assert len(got) == 2


def test_threads_get_the_same_results_as_serial(st: Stylizer, photo: np.ndarray) -> None:
    images = [np.ascontiguousarray(np.roll(photo, k * 7, axis=1)) for k in range(8)]
    serial = [st(i) for i in images]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(3):
                results[k] = st(images[k])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(8):
        np.testing.assert_array_equal(results[k], serial[k])


def test_strength_and_preserve_color(st: Stylizer, photo: np.ndarray) -> None:
    np.testing.assert_array_equal(st(photo, strength=0.0), photo)
    full = st(photo).astype(np.int32)
    half = st(photo, strength=0.5).astype(np.int32)
    assert np.abs(half - (photo.astype(np.int32) + full) / 2).max() <= 1

    kept = st(photo, preserve_color=True)
    ycc_in, ycc_out, ycc_style = (rgb_to_ycbcr(a) for a in (photo, kept, st(photo)))
    inside = (kept > 2).all(axis=2) & (kept < 253).all(axis=2)  # away from clipping
    assert np.abs(ycc_out[..., 1:] - ycc_in[..., 1:])[inside].max() <= 2.5  # input's chroma
    assert np.abs(ycc_out[..., 0] - ycc_style[..., 0])[inside].max() <= 2.5  # style's light
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="strength"):
            st(photo, strength=bad)
        with pytest.raises(ConfigError, match="strength"):
            st.stream([photo], strength=bad)  # checked when called, not when first iterated


def test_info_describes_the_run(st: Stylizer, tiny_model: Path) -> None:
    info = st.info
    assert (info.backend, info.device, info.precision) == ("ort_cpu", "cpu", "fp32")
    assert info.model is not None and info.model.style == "tiny"
    assert info.model_path == str(tiny_model) and info.fallback_reasons == ()
    assert info.as_dict()["provider"] == "CPUExecutionProvider"


def test_bad_inputs_and_arguments(st: Stylizer, tiny_model: Path) -> None:
    with pytest.raises(InvalidImageError, match="image 1"):
        st.stylize_batch([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.int16)])
    with pytest.raises(InvalidImageError, match="list"):
        st([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size"):
        Stylizer(tiny_model, batch_size=0)
    with pytest.raises(ConfigError, match="tile_size"):
        Stylizer(tiny_model, tile_size=100, tile_overlap=60)


# --- out-of-memory: a real ORT session behind a backend that has room for two frames ---------

class _TwoFrameBackend(OrtCpuBackend):
    """ORT CPU with a device that holds at most two frames: larger batches run out of memory."""

    sizes: ClassVar[list[int]] = []

    def _run_impl(self, batch: Batch) -> Batch:
        type(self).sizes.append(len(batch))
        if len(batch) > 2:
            raise OutOfMemoryError(f"batch of {len(batch)} does not fit")
        return super()._run_impl(batch)


def _never_auto(model: ModelSource, config: BackendConfig) -> str | None:
    return None


@register_backend("test_two_frames", rank=95, summary="test", fix="-", probe=_never_auto)
def _two_frames(model: ModelSource, config: BackendConfig) -> Backend:
    backend = _TwoFrameBackend(SessionFromOnnx(model, threads=config.threads), model=model)
    backend.activate()
    return backend


def test_out_of_memory_halves_the_batch(tiny_model: Path, photo: np.ndarray) -> None:
    frames = [np.ascontiguousarray(np.roll(photo, k, axis=0)) for k in range(7)]
    with Stylizer(tiny_model, backend="test_two_frames", batch_size=8) as small, \
            Stylizer(tiny_model, backend="ort_cpu") as plain:
        _TwoFrameBackend.sizes.clear()
        outs = small.stylize_batch(frames)
        assert 1 <= small.info.batch_size <= 2
        assert _TwoFrameBackend.sizes[:2] == [7, 3]  # halved, and halved again
        assert max(_TwoFrameBackend.sizes[2:]) <= 2
        for frame, out in zip(frames, outs, strict=True):
            np.testing.assert_array_equal(out, plain(frame))


# --- batches in flight: ORT CPU behind two asynchronous slots, as the GPU backends work -------

class _TwoSlotBackend(OrtCpuBackend):
    """Runs batches on a two-worker pool; ``submit`` needs a free slot, like a CUDA slot pool."""

    def __init__(self, model: ModelSource, config: BackendConfig) -> None:
        super().__init__(SessionFromOnnx(model, threads=config.threads), model=model)
        self._slots = threading.Semaphore(2)
        self._pool = ThreadPoolExecutor(max_workers=2)

    def submit(self, batch: Batch, *, block: bool = True) -> Waitable[Batch] | None:
        if not self._slots.acquire(blocking=block):
            return None
        return _Slot(self._pool.submit(super()._run_impl, batch), self._slots)

    def _run_impl(self, batch: Batch) -> Batch:  # a synchronous run takes a slot too
        work = self.submit(batch, block=True)
        assert work is not None
        return work.wait()

    def _close_impl(self) -> None:
        self._pool.shutdown()
        super()._close_impl()


class _Slot:
    def __init__(self, future: Future[Batch], slots: threading.Semaphore) -> None:
        self._future, self._slots, self._released = future, slots, False

    def wait(self) -> Batch:
        try:
            return self._future.result()
        finally:
            if not self._released:
                self._released = True
                self._slots.release()


@register_backend("test_two_slots", rank=96, summary="test", fix="-", probe=_never_auto)
def _two_slots(model: ModelSource, config: BackendConfig) -> Backend:
    backend = _TwoSlotBackend(model, config)
    backend.activate()
    return backend


def test_batches_in_flight_from_several_threads_keep_order(tiny_model: Path) -> None:
    rng = np.random.default_rng(8)
    sizes = [(24, 24), (16, 40), (64, 64), (24, 24)]  # 64×64 is tiled (max_pixels below)
    frames = [rng.integers(0, 256, (*sizes[i % 4], 3), dtype=np.uint8) for i in range(30)]
    with Stylizer(tiny_model, backend="ort_cpu") as plain:
        expected = [plain(f) for f in frames]
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []
    with Stylizer(tiny_model, backend="test_two_slots", batch_size=3, in_flight=3,
                  max_pixels=50 * 50, tile_size=40, tile_overlap=8) as st:

        def work(k: int) -> None:
            try:
                results[k] = list(st.stream(iter(frames[k:] + frames[:k])))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors and len(results) == 3
    for k, outs in results.items():
        for out, want in zip(outs, expected[k:] + expected[:k], strict=True):
            np.testing.assert_array_equal(out, want)
