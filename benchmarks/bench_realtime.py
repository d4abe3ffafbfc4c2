"""The ``realtime`` generator's frames/s against ``johnson`` and ``compact``, measured together.

``make bench`` (``RESTYLE_BENCH=full``): each generator with random weights (speed does not
depend on them), exported by ``restyle.export.to_onnx`` with uint8 NHWC I/O, run through ONNX
Runtime on the CPU at 512×512, batch 1, 2 threads, all graph optimisations, median of 9 runs
after 2 warm-ups, all in one process. The design target is ≥ 30 frames/s on 2 cores; the ratio
to ``johnson`` is what stays comparable on a busy machine. Smoke mode: narrow models at 64×64,
once. Nothing here asserts a time.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from _matrix import FULL
from bench_training import _ort_fps


def _export_realtime(path: Path) -> Path:
    import torch

    from restyle.export import to_onnx
    from restyle.training.models import create_model

    torch.manual_seed(0)
    module = create_model("realtime", **({} if FULL else {"width": 4, "blocks": 1})).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter is not what is measured here
        to_onnx(module, path, style="bench-realtime", check_shapes=[(1, 64, 64)])
    return path


@pytest.mark.benchmark(group="generator-fps")
def test_realtime_fps(benchmark: Any, tmp_path: Path, bench_models: dict[str, Path]) -> None:
    size, runs = (512, 9) if FULL else (64, 1)
    realtime = _export_realtime(tmp_path / "realtime.onnx")
    models = {"johnson": bench_models["johnson"], "compact": bench_models["compact"],
              "realtime": realtime}
    fps: dict[str, float] = {}

    def measure() -> None:
        for name, path in models.items():
            fps[name] = _ort_fps(path, size=size, runs=runs)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update({
        "size": size, "runtime": "onnxruntime-cpu", "threads": 2, "io": "uint8_nhwc",
        **{f"{name}_fps": value for name, value in fps.items()},
        "realtime_over_johnson": fps["realtime"] / fps["johnson"],
    })
