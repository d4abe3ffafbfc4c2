"""restyle.trt on a GPU with TensorRT: version-compatible engines, the shared timing cache, and
one loaded engine opened by several runners (skipped elsewhere, with the reason)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from restyle.backends.base import BackendConfig, ModelSource
from restyle.styles import resolve_model
from restyle.trt.target import tensorrt_problem

pytestmark = pytest.mark.gpu

SMALL = {"min_shape": (1, 64, 64), "opt_shape": (2, 128, 128), "max_shape": (2, 256, 256)}


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    problem = tensorrt_problem()
    if problem is not None:
        pytest.skip(problem)
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    return resolve_model("mosaic")


def _image() -> np.ndarray:
    yy, xx = np.mgrid[0:96, 0:128]
    return np.stack([(xx * 2) % 256, (yy * 3) % 256, (xx + yy) % 256], -1).astype(np.uint8)


def test_version_compatible_engine_loads_with_host_code(model: Path, tmp_path: Path) -> None:
    from restyle import Stylizer
    from restyle.trt.build import build_engine
    from restyle.trt.loader import load_engine

    path = build_engine(model, engine_path=tmp_path / "vc.engine", fp16=False,
                        version_compatible=True, **SMALL)
    loaded = load_engine(path, device=0, named_by_user=True)
    assert loaded.runtime.engine_host_code_allowed and loaded.record is not None
    with Stylizer(path, backend="tensorrt") as gpu, Stylizer(model, backend="ort_cpu") as cpu:
        assert np.abs(gpu(_image()).astype(int) - cpu(_image()).astype(int)).max() <= 3


def test_a_damaged_timing_cache_is_set_aside_and_concurrent_builds_share_it(
        model: Path, tmp_path: Path) -> None:
    from restyle.trt.build import build_engine

    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"not a timing cache" * 50)
    paths: list[Path] = []

    def build(level: int) -> None:
        paths.append(build_engine(model, engine_path=tmp_path / f"l{level}.engine", fp16=False,
                                  optimization_level=level, timing_cache=cache, **SMALL))

    threads = [threading.Thread(target=build, args=(level,)) for level in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in paths) == ["l1.engine", "l2.engine"]
    assert cache.with_name(cache.name + ".damaged").is_file()
    assert cache.stat().st_size > 0


def test_one_loaded_engine_serves_several_cheap_runners(model: Path) -> None:
    from restyle.backends.tensorrt import TensorRTBackend, TensorRTLoader

    config = BackendConfig(precision="fp32")
    loaded = TensorRTLoader(ModelSource(model, "onnx"), config)()
    batch = _image()[None]
    runners = [TensorRTBackend(loaded, config) for _ in range(2)]  # nothing allocated yet
    try:
        outs = [r.run(batch) for r in runners]  # activates on first use
    finally:
        for r in runners:
            r.close()
    assert np.array_equal(outs[0], outs[1])


def test_a_runner_deactivates_and_activates_again(model: Path) -> None:
    from restyle.backends.tensorrt import TensorRTBackend, TensorRTLoader

    config = BackendConfig(precision="fp32")
    runner = TensorRTBackend(TensorRTLoader(ModelSource(model, "onnx"), config)(), config)
    batch = _image()[None]
    try:
        first = runner.run(batch)
        runner.deactivate()
        assert np.array_equal(runner.run(batch), first)
    finally:
        runner.close()
