"""Building TensorRT engines (needs an NVIDIA GPU and TensorRT 10 or 11; skipped elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from restyle.errors import EngineMismatchError
from restyle.trt.record import (
    BuildProfile,
    BuildTarget,
    check_engine,
    read_sidecar,
    sidecar_path,
)
from restyle.trt.target import detect_target

pytestmark = pytest.mark.gpu

SMALL = BuildProfile(min=(1, 32, 32), opt=(2, 64, 96), max=(4, 128, 128))


def _build(onnx_path: Path, engine_path: Path | None = None) -> Path:
    from restyle.trt.build import build_engine

    return build_engine(onnx_path, engine_path=engine_path, min_shape=SMALL.min,
                        opt_shape=SMALL.opt, max_shape=SMALL.max)


@pytest.fixture
def trt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    from restyle.trt.target import load_tensorrt, tensorrt_problem

    problem = tensorrt_problem()
    if problem is not None:
        pytest.skip(problem)
    module: ModuleType = load_tensorrt()
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    return module


def _deserialize(trt: ModuleType, path: Path) -> Any:
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(path.read_bytes())
    assert engine is not None
    return engine


def test_build_an_fp16_engine_with_uint8_io(trt: ModuleType, tiny_onnx: Path,
                                            tmp_path: Path) -> None:
    path = _build(tiny_onnx, tmp_path / "tiny.engine")
    record = read_sidecar(path)
    assert record.precision == "fp16" and record.profile == SMALL
    assert record.target == detect_target()
    engine = _deserialize(trt, path)
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    assert names == ["image", "stylized"]
    assert engine.get_tensor_dtype("image") == trt.DataType.UINT8
    assert engine.get_tensor_dtype("stylized") == trt.DataType.UINT8
    assert list(engine.get_tensor_profile_shape("image", 0)[2]) == [4, 128, 128, 3]
    timing = list((tmp_path / "cache" / "engines").glob("timing-*.cache"))
    assert timing and timing[0].stat().st_size > 0


def test_the_cache_reuses_a_matching_engine_and_rebuilds_a_stale_one(
    trt: ModuleType, tiny_onnx: Path
) -> None:
    from restyle.trt.build import cached_engine

    first = _build(tiny_onnx)
    built_at = first.stat().st_mtime_ns
    assert cached_engine(tiny_onnx, profile=SMALL) == first
    assert _build(tiny_onnx) == first and first.stat().st_mtime_ns == built_at
    record = json.loads(sidecar_path(first).read_text())
    record["target"]["tensorrt_version"] = "9.0.0"  # as if another TensorRT had built it
    sidecar_path(first).write_text(json.dumps(record))
    assert cached_engine(tiny_onnx, profile=SMALL) is None
    rebuilt = _build(tiny_onnx)
    assert rebuilt == first and read_sidecar(rebuilt).target == detect_target()
    with pytest.raises(EngineMismatchError, match="TensorRT"):
        check_engine(rebuilt, target=BuildTarget("9.0.0", "another GPU", "1.0"))
