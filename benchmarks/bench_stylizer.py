"""Stylizer throughput per backend against the baselines a user would pick, measured in one run.

Groups are ``model resolution batch``: pytest-benchmark's table then shows each backend's time
relative to the fastest in its group, and ``extra_info`` records frames/s, the ratio to PyTorch
eager FP32 and the FLOP efficiency against a matrix-multiply ceiling measured in the same session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _matrix import BATCHES, FULL, RESOLUTIONS, matrix

from restyle import Stylizer
from restyle.backends.registry import backend_names, get_backend_spec
from restyle.bench.baselines import (
    plain_onnxruntime,
    plain_openvino,
    random_frames,
    torch_runnable,
)
from restyle.bench.ceiling import matmul_ceiling_gflops
from restyle.bench.flops import flops_per_frame
from restyle.modelinfo import read_model_info

MODELS = matrix(["johnson", "compact"], ["johnson"])
BACKENDS = [b for b in backend_names() if FULL or b in ("ort_cpu", "openvino")]
BASELINES = ["torch eager fp32", "torch compile fp32", "plain onnxruntime", "plain openvino"]
_EAGER_FPS: dict[tuple[str, int, int, int], float] = {}


@pytest.fixture(scope="session")
def ceiling_gflops() -> float:
    return matmul_ceiling_gflops(n=2048 if FULL else 256, repeat=5 if FULL else 1)


def _record(benchmark: Any, key: tuple[str, int, int, int], batch: int, flops: float | None,
            ceiling: float, *, eager: bool = False) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # smoke mode: --benchmark-disable keeps no statistics
        return
    fps = batch / stats.stats.median
    benchmark.extra_info["frames_per_s"] = fps
    if eager:
        _EAGER_FPS[key] = fps
    if key in _EAGER_FPS:
        benchmark.extra_info["x_torch_eager"] = fps / _EAGER_FPS[key]
    if flops:
        benchmark.extra_info["flop_efficiency"] = flops * fps / (ceiling * 1e9)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"{r[0]}x{r[1]}")
@pytest.mark.parametrize("baseline", BASELINES)
@pytest.mark.parametrize("model", MODELS)
def bench_baseline(benchmark: Any, bench_models: dict[str, Path], ceiling_gflops: float,
                   model: str, baseline: str, res: tuple[int, int], batch: int) -> None:
    path = bench_models[model]
    info = read_model_info(path)
    h, w = res
    if baseline == "torch compile fp32" and not FULL:
        pytest.skip("torch.compile is measured in the full run only (compiles for minutes)")
    if baseline.startswith("torch"):
        runnable = torch_runnable(info, batch=batch, height=h, width=w,
                                  compile_model="compile" in baseline)
    elif baseline == "plain onnxruntime":
        runnable = plain_onnxruntime(path, info, batch=batch, height=h, width=w)
    else:
        runnable = plain_openvino(path, info, batch=batch, height=h, width=w)
    benchmark.group = f"{model} {h}x{w} b{batch}"
    benchmark.name = baseline
    benchmark(runnable.run)
    _record(benchmark, (model, h, w, batch), batch, flops_per_frame(info, h, w), ceiling_gflops,
            eager=baseline == "torch eager fp32")


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("res", RESOLUTIONS, ids=lambda r: f"{r[0]}x{r[1]}")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("model", MODELS)
def bench_stylizer(benchmark: Any, bench_models: dict[str, Path], ceiling_gflops: float,
                   model: str, backend: str, res: tuple[int, int], batch: int) -> None:
    path = bench_models[model]
    spec = get_backend_spec(backend)
    h, w = res
    try:
        st = Stylizer(path, backend=backend, batch_size=batch)
    except Exception as exc:  # a backend this machine lacks is a skip, with its reason
        pytest.skip(f"{backend}: {exc} ({spec.fix})")
    frames = list(random_frames(batch, h, w))
    with st:
        benchmark.group = f"{model} {h}x{w} b{batch}"
        benchmark.name = f"restyle {backend}"
        benchmark(st.stylize_batch, frames)
    _record(benchmark, (model, h, w, batch), batch,
            flops_per_frame(read_model_info(path), h, w), ceiling_gflops)
