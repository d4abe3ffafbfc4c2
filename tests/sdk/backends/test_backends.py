"""Backends on the CPU: ORT CPU and OpenVINO against a numpy reference, the registry, auto."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from restyle import Stylizer
from restyle.backends.base import BackendConfig, ModelSource, translate_error
from restyle.backends.ort_cpu import OrtCpuBackend, SessionFromOnnx
from restyle.backends.registry import backend_names, get_backend_spec, open_backend
from restyle.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    ModelFormatError,
    OutOfMemoryError,
)
from restyle.modelinfo import read_model_info

Reference = Callable[[np.ndarray], np.ndarray]
needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None,
    reason="openvino not installed (pip install 'restyle[openvino]')")


def _batch(n: int = 3, h: int = 33, w: int = 47, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _source(path: Path) -> ModelSource:
    return ModelSource(path, "onnx", read_model_info(path))


def _cpu(path: Path, threads: int | None = None) -> OrtCpuBackend:
    """An ORT CPU runner on a loader (loads when activated)."""
    return OrtCpuBackend(SessionFromOnnx(_source(path), threads=threads), model=_source(path))


def _max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


def test_registry_order_and_names() -> None:
    assert backend_names()[:4] == ["tensorrt", "ort_cuda", "openvino", "ort_cpu"]
    assert get_backend_spec("ort_cpu").rank > get_backend_spec("openvino").rank


def test_unknown_backend_lists_the_known_ones(tiny_model: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Stylizer(tiny_model, backend="cuda_magic")
    for name in ("auto", "tensorrt", "ort_cuda", "openvino", "ort_cpu"):
        assert name in str(info.value)


def test_ort_cpu_matches_reference(tiny_model: Path, ref: Reference) -> None:
    batch = _batch()
    with _cpu(tiny_model, threads=1) as backend:
        out = backend.run(batch)
        assert backend.info.provider == "CPUExecutionProvider" and backend.info.device == "cpu"
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert _max_diff(out, ref(batch)) <= 1


def test_float32_nchw_model_gives_the_same_result(tiny_model: Path, tiny_float_model: Path) -> None:
    batch = _batch(2)
    with _cpu(tiny_model) as a, \
            _cpu(tiny_float_model) as b:
        assert _max_diff(a.run(batch), b.run(batch)) <= 1


def test_closed_backend_and_bad_batches_raise(tiny_model: Path) -> None:
    backend = _cpu(tiny_model)
    backend.activate()
    with pytest.raises(ConfigError, match="uint8"):
        backend.run(np.zeros((1, 8, 8, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="N×H×W×3"):
        backend.run(np.zeros((8, 8, 3), np.uint8))
    backend.close()
    with pytest.raises(BackendError, match="closed"):
        backend.run(_batch(1))


@needs_openvino
@pytest.mark.parametrize("batch_size", [1, 4])  # LATENCY and THROUGHPUT hints
def test_openvino_equals_ort_cpu(tiny_model: Path, batch_size: int) -> None:
    batch = _batch(5, 40, 56, seed=3)
    config = BackendConfig(batch_size=batch_size)
    ov_backend, _ = open_backend("openvino", _source(tiny_model), config)
    with _cpu(tiny_model) as cpu:
        try:
            hint = "THROUGHPUT" if batch_size > 1 else "LATENCY"
            assert hint in ov_backend.info.detail
            # OpenVINO runs bf16 by default on CPUs that have it (AMX, AVX512_BF16): the
            # tolerance follows the precision it reports
            tolerance = 1 if ov_backend.info.precision == "fp32" else 6
            assert _max_diff(ov_backend.run(batch), cpu.run(batch)) <= tolerance
        finally:
            ov_backend.close()


def test_auto_records_why_faster_backends_were_skipped(
        tiny_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("restyle.backends")
    logger.addHandler(caplog.handler)  # the CLI's logging setup may stop propagation to root
    try:
        with caplog.at_level(logging.INFO, logger="restyle.backends"), \
                Stylizer(tiny_model, backend="auto") as st:
            info = st.info
    finally:
        logger.removeHandler(caplog.handler)
    chosen = backend_names().index(info.backend)
    skipped = backend_names()[:chosen]
    assert [r.split(":")[0] for r in info.fallback_reasons] == skipped
    for name in skipped:
        assert any(name in rec.message and "skipped" in rec.message for rec in caplog.records)
    if importlib.util.find_spec("tensorrt") is None or info.backend != "tensorrt":
        assert info.fallback_reasons and all(len(r) > len("x: ") for r in info.fallback_reasons)


def test_explicit_unavailable_backend_names_the_fix(tiny_model: Path) -> None:
    spec = get_backend_spec("tensorrt")
    reason = spec.probe(_source(tiny_model), BackendConfig())
    if reason is None:
        pytest.skip("TensorRT can run here")
    with pytest.raises(BackendUnavailableError) as info:
        Stylizer(tiny_model, backend="tensorrt")
    assert reason in str(info.value) and "install" in str(info.value)


def test_an_engine_file_only_runs_on_tensorrt(tmp_path: Path, tiny_model: Path) -> None:
    engine = tmp_path / "tiny.engine"
    engine.write_bytes(b"not an engine")
    source = ModelSource(engine, "engine")
    assert "TensorRT engine" in (get_backend_spec("ort_cpu").probe(source, BackendConfig()) or "")
    if get_backend_spec("tensorrt").probe(source, BackendConfig()) is not None:
        with pytest.raises(BackendUnavailableError, match="no backend can run"):
            Stylizer(engine)


def test_not_a_model_is_a_model_format_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.onnx"
    bogus.write_text("hello")
    with pytest.raises(ModelFormatError, match="not an ONNX model"):
        Stylizer(bogus)
    with pytest.raises(ModelFormatError, match="does not exist"):
        Stylizer(tmp_path / "missing.onnx")


def test_runtime_errors_are_translated() -> None:
    oom = translate_error(RuntimeError("CUDA failure 2: out of memory"), backend="b", shape=(8,))
    assert isinstance(oom, OutOfMemoryError) and "smaller batch_size" in str(oom)
    other = translate_error(RuntimeError("bad node"), backend="b", shape=(8,))
    assert type(other) is BackendError and "bad node" in str(other)
