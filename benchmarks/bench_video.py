"""Video end to end against bare inference of the same batch function, in the same run.

``bench_video_throughput`` times :func:`restyle.video.stylize_video` (probe, decode, stylise,
encode, join) with pytest-benchmark and records in ``extra_info`` the bare inference frames/s of
the same ``Stylizer.stylize_batch`` at the same resolution and batch size, measured in the same
session, and their ratio (target ≥ 0.85: decoding and encoding hidden behind compute).
``bench_video_flicker`` records the flicker metric on a static-camera clip with and without the
temporal blend. Smoke mode (``make test``): one tiny clip, each measured once.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from _matrix import FULL, matrix

from restyle import Stylizer
from restyle.video import stylize_video
from restyle.video.bench import decoded_frames, measure_flicker
from restyle.video.synthetic import write_clip

SIZES = matrix([(256, 256), (720, 1280)], [(64, 64)])
VIDEO_BATCHES = matrix([1, 8], [2])


def _frames(h: int, w: int) -> int:
    """Enough frames that the fixed costs (probe, encoder start and flush, join) count as they
    would in a short clip, few enough for a CPU run."""
    if not FULL:
        return 8
    return 96 if h * w <= 256 * 256 else 32


@pytest.mark.parametrize("batch", VIDEO_BATCHES)
@pytest.mark.parametrize("res", SIZES, ids=lambda r: f"{r[0]}x{r[1]}")
def bench_video_throughput(benchmark: Any, bench_models: dict[str, Path], tmp_path: Path,
                           res: tuple[int, int], batch: int) -> None:
    h, w = res
    frames = _frames(h, w)
    src = write_clip(tmp_path / "clip.mp4", width=w, height=h, frames=frames, crf=18)
    images = decoded_frames(src)
    runs = 0
    bare_seconds: list[float] = []
    with Stylizer(bench_models["compact"], backend="ort_cpu", batch_size=batch) as st:

        def bare() -> None:
            """Untimed by pytest-benchmark: runs before each video round, timed here, so bare and
            video samples alternate and drift in the machine's load hits both alike."""
            start = time.perf_counter()
            for i in range(0, len(images), batch):
                st.stylize_batch(images[i:i + batch])
            bare_seconds.append(time.perf_counter() - start)

        def video() -> None:
            nonlocal runs
            runs += 1
            report = stylize_video(src, tmp_path / f"out{runs}.mp4", st.stylize_batch,
                                   batch_size=batch, progress=False)
            assert report.frames == frames

        st.stylize_batch(images[:batch])  # warm-up: first-run allocations are not the speed
        benchmark.group = f"video compact {h}x{w} b{batch}"
        benchmark.name = "stylize_video end to end"
        benchmark.pedantic(video, setup=bare, rounds=3 if FULL else 1)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # smoke mode: --benchmark-disable keeps no statistics
        return
    video_fps = frames / stats.stats.median
    bare_fps = frames / statistics.median(bare_seconds)
    benchmark.extra_info.update({"video_frames_per_s": video_fps, "bare_frames_per_s": bare_fps,
                                 "video_over_bare": video_fps / bare_fps})


def bench_video_flicker(benchmark: Any, bench_models: dict[str, Path], tmp_path: Path) -> None:
    side = 128 if FULL else 48
    benchmark.group = "video flicker (static camera)"
    with Stylizer(bench_models["compact"], backend="ort_cpu", batch_size=4) as st:
        result = benchmark.pedantic(
            lambda: measure_flicker(st.stylize_batch, height=side, width=side,
                                    frames=24 if FULL else 6, workdir=tmp_path),
            rounds=1)
    benchmark.extra_info.update({"flicker_plain": result.plain,
                                 "flicker_temporal_blend": result.blended})
