"""``stream()`` and ``stylize_folder()`` against bare inference of the same ``Stylizer``.

Bare: ``stylize_batch`` on frames already in memory. Stream: the same frames through
``Stylizer.stream`` (pipelined, order kept). Folder: PNG photos on disk through
``stylize_folder`` (decode, stylise, encode, atomic write), a fresh output folder each round;
"folder-jpeg" the same with JPEG files (quality 95), whose codec costs a tenth of PNG's.
All three in one process, one after the other; ``extra_info`` holds frames/s and the share of bare
(the issue's target is ≥ 90 %). ``make bench``: ``compact`` and ``johnson`` at 512², batch 4,
32 images, the ``auto`` backend. Smoke mode: a narrow model at 64², 4 images, once. Nothing here
asserts a time.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _matrix import FULL, matrix
from PIL import Image

from restyle import Stylizer

MODELS = matrix(["compact", "johnson"], ["compact"])
SIZE, COUNT, BATCH = (512, 32, 4) if FULL else (64, 4, 2)
_BARE: dict[str, float] = {}
_rounds = itertools.count()


def _photos(count: int, size: int) -> list[np.ndarray]:
    """Photo-like frames (smooth gradients plus texture): PNG costs what it costs on photos."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    frames = []
    for k in range(count):
        base = np.stack([np.sin(6 * x + k), np.cos(5 * y - k), np.sin(4 * (x + y) + 2 * k)], -1)
        noise = rng.normal(0, 0.08, (size, size, 3))
        frames.append(((base * 0.4 + 0.5 + noise).clip(0, 1) * 255).astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    root = tmp_path_factory.mktemp("pipeline-photos")
    (root / "png").mkdir()
    (root / "jpeg").mkdir()
    frames = _photos(COUNT, SIZE)
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "png" / f"p{k:03d}.png")
        Image.fromarray(frame).save(root / "jpeg" / f"p{k:03d}.jpg", quality=95)
    return root, frames


def _fps(benchmark: Any) -> float | None:
    stats = getattr(benchmark, "stats", None)
    return None if stats is None else COUNT / stats.stats.median


@pytest.mark.parametrize("path", ["bare", "stream", "folder", "folder-jpeg"])
@pytest.mark.parametrize("model", MODELS)
def bench_pipeline(benchmark: Any, bench_models: dict[str, Path],
                   photo_folder: tuple[Path, list[np.ndarray]], tmp_path: Path, model: str,
                   path: str) -> None:
    src, frames = photo_folder
    with Stylizer(bench_models[model], batch_size=BATCH) as st:
        st.stylize_batch(frames[:BATCH])  # warm-up outside the clock

        def run() -> None:
            if path == "bare":
                for start in range(0, COUNT, BATCH):
                    st.stylize_batch(frames[start:start + BATCH])
            elif path == "stream":
                for _ in st.stream(frames):
                    pass
            else:
                kind = "jpeg" if path == "folder-jpeg" else "png"
                report = st.stylize_folder(src / kind, tmp_path / f"out{next(_rounds)}",
                                           progress=False)
                if len(report.written) != COUNT:
                    raise RuntimeError(f"folder run wrote {len(report.written)} of {COUNT}")

        benchmark.group = f"pipelines {model} {SIZE}x{SIZE} b{BATCH}"
        benchmark.name = path
        started = time.perf_counter()
        benchmark.pedantic(run, rounds=3 if FULL else 1, iterations=1)
        fps = _fps(benchmark) or COUNT / (time.perf_counter() - started)
    benchmark.extra_info.update({"frames_per_s": fps, "backend": st.info.backend})
    if path == "bare":
        _BARE[model] = fps
    elif model in _BARE:
        benchmark.extra_info["share_of_bare"] = fps / _BARE[model]
