"""Engine identity without TensorRT: profiles, cache keys, sidecars, mismatch detection, plans."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from restyle.errors import ConfigError, DependencyError, EngineMismatchError, ModelFormatError
from restyle.paths import engine_cache_dir
from restyle.trt.build import _Progress, build_engine, timing_cache_path
from restyle.trt.record import (
    BuildProfile,
    BuildTarget,
    EngineRecord,
    cached_engine_path,
    check_engine,
    parse_shape,
    parse_version,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from restyle.trt.target import load_tensorrt, plan_build

L4 = BuildTarget("10.13.0.35", "NVIDIA L4", "8.9")
RECORD = EngineRecord(onnx_sha256="ab" * 32, target=L4, profile=BuildProfile(), precision="fp16")


def _engine(tmp_path: Path, record: EngineRecord = RECORD) -> Path:
    path = tmp_path / "model.engine"
    path.write_bytes(b"serialized engine")
    write_sidecar(path, record)
    return path


def test_profile_defaults_and_validation() -> None:
    profile = BuildProfile()
    assert profile.key() == "1x256x256-4x720x1280-16x1080x1920"
    assert profile.tensor_shapes("uint8_nhwc")[2] == (16, 1080, 1920, 3)
    assert profile.tensor_shapes("float32_nchw")[0] == (1, 3, 256, 256)
    assert profile.covers(3, 333, 517) and not profile.covers(1, 64, 64)
    with pytest.raises(ConfigError, match="min ≤ opt ≤ max"):
        BuildProfile(min=(1, 720, 256), opt=(4, 256, 1280))
    with pytest.raises(ConfigError, match="positive"):
        BuildProfile(min=(0, 256, 256))


def test_parse_shape_and_version() -> None:
    assert parse_shape("4x720x1280") == (4, 720, 1280)
    assert parse_shape(" 1X256X256 ") == (1, 256, 256)
    for bad in ("4x720", "axbxc", "0x1x1", "4,720,1280"):
        with pytest.raises(ConfigError):
            parse_shape(bad)
    assert parse_version("10.13.0.35") == (10, 13, 0, 35)
    assert parse_version("11.4.0.post1") == (11, 4, 0)


def test_record_round_trips_through_its_sidecar(tmp_path: Path) -> None:
    path = _engine(tmp_path)
    assert sidecar_path(path).name == "model.engine.json"
    stored = read_sidecar(path)
    assert stored == replace(RECORD, engine_sha256=hashlib.sha256(b"serialized engine").hexdigest())
    assert check_engine(path, target=L4, onnx_sha256="ab" * 32, profile=BuildProfile(),
                        precision="fp16") == stored


def test_cache_key_covers_every_field() -> None:
    variants = [
        replace(RECORD, onnx_sha256="cd" * 32),
        replace(RECORD, target=replace(L4, tensorrt_version="11.4.0")),
        replace(RECORD, target=replace(L4, gpu_name="NVIDIA H100 80GB HBM3")),
        replace(RECORD, target=replace(L4, compute_capability="9.0")),
        replace(RECORD, profile=BuildProfile(max=(8, 1080, 1920))),
        replace(RECORD, precision="fp32"),
    ]
    keys = {RECORD.cache_key(), *(v.cache_key() for v in variants)}
    assert len(keys) == len(variants) + 1
    paths = {cached_engine_path(r, stem="mosaic") for r in (RECORD, *variants)}
    assert len(paths) == len(variants) + 1
    assert all(p.parent == engine_cache_dir() and p.name.startswith("mosaic-") for p in paths)
    assert replace(RECORD, restyle_version="9.9").cache_key() == RECORD.cache_key()


@pytest.mark.parametrize(("running", "message"), [
    (replace(L4, tensorrt_version="11.4.0"), "built with TensorRT 10.13.0.35 for NVIDIA L4"),
    (replace(L4, gpu_name="NVIDIA A10G", compute_capability="8.6"), "this is TensorRT"),
])
def test_a_foreign_engine_is_refused_with_the_fix(tmp_path: Path, running: BuildTarget,
                                                  message: str) -> None:
    path = _engine(tmp_path)
    with pytest.raises(EngineMismatchError, match=message) as info:
        check_engine(path, target=running)
    assert "restyle export" in str(info.value) and "--trt" in str(info.value)


def test_a_stale_engine_is_refused(tmp_path: Path) -> None:
    path = _engine(tmp_path)
    with pytest.raises(EngineMismatchError, match="another ONNX model"):
        check_engine(path, target=L4, onnx_sha256="cd" * 32)
    with pytest.raises(EngineMismatchError, match="shapes"):
        check_engine(path, target=L4, profile=BuildProfile(max=(8, 1080, 1920)))
    with pytest.raises(EngineMismatchError, match="fp32 is wanted"):
        check_engine(path, target=L4, precision="fp32")


def test_version_compatible_engines_run_on_later_minor_releases(tmp_path: Path) -> None:
    path = _engine(tmp_path, replace(RECORD, version_compatible=True))
    check_engine(path, target=replace(L4, tensorrt_version="10.14.1"))
    with pytest.raises(EngineMismatchError):
        check_engine(path, target=replace(L4, tensorrt_version="10.12.0"))
    with pytest.raises(EngineMismatchError):
        check_engine(path, target=replace(L4, tensorrt_version="11.0.0"))


def test_missing_or_corrupt_sidecar_and_missing_engine(tmp_path: Path) -> None:
    path = _engine(tmp_path)
    sidecar_path(path).write_text("{not json")
    with pytest.raises(EngineMismatchError, match="unreadable"):
        check_engine(path, target=L4)
    sidecar_path(path).unlink()
    with pytest.raises(EngineMismatchError, match="no sidecar"):
        check_engine(path, target=L4)
    with pytest.raises(ModelFormatError, match="does not exist"):
        check_engine(tmp_path / "missing.engine", target=L4)


def test_build_plans_for_tensorrt_10_and_11() -> None:
    ten = plan_build("10.13.0.35", fp16=True, onnx_precision="fp32")
    assert (ten.strongly_typed, ten.request_strong_typing_flag, ten.convert_to_fp16,
            ten.precision) == (True, True, True, "fp16")
    eleven = plan_build("11.4.0", fp16=True, onnx_precision="fp32")
    assert (eleven.request_strong_typing_flag, eleven.convert_to_fp16) == (False, True)
    assert not plan_build("11.4.0", fp16=True, onnx_precision="fp16").convert_to_fp16
    fp32 = plan_build("11.4.0", fp16=False, onnx_precision="fp32")
    assert (fp32.precision, fp32.convert_to_fp16) == ("fp32", False)
    assert plan_build("10.0.1", fp16=False, onnx_precision="fp16").precision == "fp16"
    with pytest.raises(DependencyError, match="too old"):
        plan_build("8.6.1", fp16=True, onnx_precision="fp32")
    with pytest.raises(ConfigError, match="precision"):
        plan_build("10.13.0", fp16=True, onnx_precision="int4")
    # a QDQ file from `restyle quantize`: explicitly quantised, its float layers as stored
    int8 = plan_build("10.13.0", fp16=True, onnx_precision="int8")
    assert (int8.precision, int8.convert_to_fp16) == ("int8", False)


def test_progress_logging_and_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    progress = _Progress(interval=0.0)
    with caplog.at_level(logging.INFO, logger="restyle.trt"):
        progress.start("Building engine", None, 3)
        progress.start("Tactic selection", "Building engine", 10)
        assert progress.step("Building engine", 0) is True
        progress.finish("Tactic selection")
        progress.cancelled = True
        assert progress.step("Building engine", 1) is False
    text = caplog.text
    assert "Building engine (3 steps)" in text and "step 1/3" in text


def test_timing_cache_is_per_tensorrt_and_gpu() -> None:
    a, b = timing_cache_path(L4), timing_cache_path(replace(L4, tensorrt_version="11.4.0"))
    assert a != b and a.parent == engine_cache_dir()


def test_without_tensorrt_build_engine_names_the_fix(tiny_onnx: Path) -> None:
    try:
        load_tensorrt()
    except DependencyError:
        pass
    else:
        pytest.skip("TensorRT is installed here: the gpu tests cover building")
    with pytest.raises(DependencyError, match="TensorRT"):
        build_engine(tiny_onnx, engine_path=tiny_onnx.with_suffix(".engine"))
    assert not tiny_onnx.with_suffix(".engine").exists()


def test_the_engine_modules_load_without_torch_onnx_or_tensorrt() -> None:
    """The runtime imports them to find and check engines: they must stay light."""
    code = ("import sys, restyle.trt.record, restyle.trt.target, restyle.trt.loader, "
            "restyle.trt.build, restyle.trt.timing\n"
            "print(','.join(m for m in ('torch', 'onnx', 'tensorrt') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
