"""Video end to end against bare inference of the same batch function, in the same run.

``bench_video_throughput`` runs the library's :func:`restyle.bench.video.measure_video_throughput`
(the code behind ``restyle bench --video``): :func:`restyle.video.stylize_video` end to end (probe,
decode, stylise, encode, join) against bare inference of the same ``Stylizer.stylize_batch`` at
the same resolution and batch size, alternated in one run; ``extra_info`` keeps both frame rates
and their ratio (target ≥ 0.85: decoding and encoding hidden behind compute).
``bench_video_flicker`` records the flicker metric on a static-camera clip with and without the
temporal blend. Smoke mode (``make test``): one tiny clip, each measured once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _matrix import FULL, matrix

from restyle import Stylizer
from restyle.bench.video import measure_flicker, measure_video_throughput

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
    """The library's measurement (``restyle bench --video`` runs the same code): bare inference
    and ``stylize_video`` end to end, alternated in one run."""
    h, w = res
    frames = _frames(h, w)
    with Stylizer(bench_models["compact"], backend="ort_cpu", batch_size=batch) as st:
        benchmark.group = f"video compact {h}x{w} b{batch}"
        benchmark.name = "stylize_video end to end"
        result = benchmark.pedantic(
            lambda: measure_video_throughput(st.stylize_batch, height=h, width=w,
                                             batch_size=batch, frames=frames,
                                             repeat=3 if FULL else 1, workdir=tmp_path),
            rounds=1)
    assert result.frames == frames and result.video_fps > 0
    benchmark.extra_info.update({"video_frames_per_s": result.video_fps,
                                 "bare_frames_per_s": result.bare_fps,
                                 "video_over_bare": result.ratio})


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
