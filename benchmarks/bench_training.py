"""Training-step and generator-speed benchmarks.

``make bench`` (``RESTYLE_BENCH=full``) measures:

- ``test_train_step_compact``: seconds per training step of ``compact`` with ``--features
  random`` at 256×256, batch 4. The CPU budget is 1 s per step on a 2-core machine. For
  reference, ``johnson`` with a VGG16 loss network took about 7.5 s per step there: a GPU
  configuration.
- ``test_generator_fps_ratio``: frames/s of ``compact`` and ``johnson`` through ONNX Runtime on
  the CPU at 512×512 (2 threads, all graph optimisations, median of 7 runs after 2 warm-ups, both
  in the same process), as a ratio. The design target is ≥ 5×.

``make test`` runs both in smoke mode (tiny sizes, once, untimed) so they never rot. Results go
to ``extra_info``; nothing here asserts a time.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _matrix import FULL
from PIL import Image

from restyle.bench.timing import measure
from restyle.training import TrainConfig
from restyle.training.step import TrainingRun


def _style(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)  # a vivid block mosaic
    path = tmp_path / "blocks.png"
    Image.fromarray(blocks).resize((256, 256), Image.Resampling.NEAREST).save(path)
    return path


def _content(tmp_path: Path, size: int) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    yy, xx = np.mgrid[0:size * 3 // 2, 0:size * 2].astype(np.float32)
    for i in range(4):
        img = np.stack([xx / xx.max(), yy / yy.max(), np.full_like(xx, i / 4)], axis=2)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


@pytest.mark.benchmark(group="train-step")
def test_train_step_compact(benchmark: Any, tmp_path: Path) -> None:
    size, batch = (256, 4) if FULL else (32, 1)
    config = TrainConfig(style=(_style(tmp_path),), content=_content(tmp_path, size),
                         out=tmp_path / "run", arch="compact", width=None if FULL else 4,
                         blocks=None if FULL else 1, features="random", size=size,
                         batch_size=batch, steps=1000, device="cpu")
    run = TrainingRun(config)
    run.train_step()  # warm-up
    seconds: list[float] = []

    def step() -> None:
        start = time.perf_counter()
        run.train_step()
        seconds.append(time.perf_counter() - start)

    benchmark.pedantic(step, rounds=5 if FULL else 1, warmup_rounds=1 if FULL else 0,
                       iterations=1)
    benchmark.extra_info.update({
        "arch": "compact", "features": "random", "size": size, "batch": batch,
        "threads": torch.get_num_threads(), "seconds_per_step": statistics.median(seconds),
    })


def _ort_fps(path: Path, *, size: int, runs: int) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    rng = np.random.default_rng(0)
    if inp.type == "tensor(uint8)":
        x: np.ndarray = rng.integers(0, 256, size=(1, size, size, 3), dtype=np.uint8)
    else:
        x = rng.random((1, 3, size, size), dtype=np.float32)
    feed = {inp.name: x}
    return 1.0 / measure(lambda: session.run(None, feed), warmup=2, repeat=runs).median


@pytest.mark.benchmark(group="generator-fps")
def test_generator_fps_ratio(benchmark: Any, bench_models: dict[str, Path]) -> None:
    size, runs = (512, 7) if FULL else (64, 1)
    fps: dict[str, float] = {}

    def measure() -> None:
        for arch in ("johnson", "compact"):
            fps[arch] = _ort_fps(bench_models[arch], size=size, runs=runs)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update({
        "size": size, "runtime": "onnxruntime-cpu", "threads": 2,
        "johnson_fps": fps["johnson"], "compact_fps": fps["compact"],
        "compact_over_johnson": fps["compact"] / fps["johnson"],
    })
