"""Precision requests, what the runtimes report back, and tolerances that follow what they run.

These run on AVX2-only CPUs (no bf16: asking for it is refused) and on AMX CPUs (bf16 is the
OpenVINO default there): expectations are set from what the runtime reports, never assumed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from restyle import Stylizer
from restyle.backends.base import BackendConfig, ModelSource
from restyle.backends.registry import open_backend
from restyle.errors import BackendUnavailableError, ConfigError
from restyle.modelinfo import read_model_info
from restyle.precision import (
    GateReport,
    check_precision,
    cpu_has_bf16,
    cpu_isa,
    graph_precision,
    int8_path,
    openvino_compile_hint,
)
from restyle.precision_choice import auto_order

Reference = Callable[[np.ndarray], np.ndarray]
needs_openvino = pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                                    reason="openvino not installed")

#: Largest grey-level difference from the float32 reference allowed per executed precision
#: (bf16 keeps 8 bits of mantissa: a few levels after a convolution and a sigmoid).
TOLERANCE = {"fp32": 1, "bf16": 6, "fp16": 2}


def _batch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (2, 24, 40, 3), dtype=np.uint8)


def test_check_precision_accepts_the_names_and_refuses_others() -> None:
    assert check_precision("BF16") == "bf16"
    assert check_precision("all", allow_all=True) == "all"
    with pytest.raises(ConfigError, match="fp32, bf16, fp16, int8"):
        check_precision("int4")
    with pytest.raises(ConfigError):
        check_precision("all")


def test_cpu_isa_reads_flags_and_honours_the_onednn_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    amx = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"}
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert cpu_isa(amx) == "AMX"
    assert cpu_isa({"avx2", "fma"}) == "AVX2"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert cpu_isa(amx) == "AVX2"  # the emulation of an AVX2 machine on an AMX one
    assert cpu_isa({"sse4_2"}) == "SSE4"  # a cap never raises the ISA


def test_openvino_hint_per_request() -> None:
    assert openvino_compile_hint("fp32", "fp32") == {"INFERENCE_PRECISION_HINT": "f32"}
    assert openvino_compile_hint("bf16", "fp32") == {"INFERENCE_PRECISION_HINT": "bf16"}
    assert openvino_compile_hint("auto", "int8") == {"INFERENCE_PRECISION_HINT": "f32"}
    expected = {} if cpu_has_bf16() else {"INFERENCE_PRECISION_HINT": "f32"}
    assert openvino_compile_hint("auto", "fp32") == expected


def test_graph_precision_and_int8_path(tiny_model: Path) -> None:
    assert graph_precision(tiny_model) == "fp32"
    assert int8_path(tiny_model).name == tiny_model.stem + ".int8.onnx"
    assert int8_path(int8_path(tiny_model)) == int8_path(tiny_model)


def test_auto_order_per_isa() -> None:
    assert auto_order("AMX") == ("bf16", "int8")
    assert auto_order("AVX512_BF16") == ("int8", "bf16")
    assert auto_order("AVX2") == ("int8",)


def test_gate_report_minimum_is_the_worst_photo() -> None:
    gate = GateReport({"a": 40.0, "b": 34.0}, threshold_db=35.0)
    assert gate.min_psnr_db == 34.0 and gate.mean_psnr_db == 37.0 and not gate.passed
    assert GateReport.from_dict(gate.as_dict()) == gate


def test_ort_cpu_reports_the_graph_precision_and_refuses_bf16(tiny_model: Path) -> None:
    with Stylizer(tiny_model, backend="ort_cpu", precision="fp32") as st:
        assert st.info.precision == "fp32"
    with pytest.raises(BackendUnavailableError, match="bf16 runs on OpenVINO"):
        Stylizer(tiny_model, backend="ort_cpu", precision="bf16")
    with pytest.raises(BackendUnavailableError, match="fp16"):
        Stylizer(tiny_model, backend="ort_cpu", precision="fp16")


def test_int8_without_an_int8_model_names_the_fix(tiny_model: Path) -> None:
    with pytest.raises(ConfigError, match="restyle quantize"):
        Stylizer(tiny_model, backend="ort_cpu", precision="int8")


@needs_openvino
def test_openvino_fp32_is_read_back_and_exact(tiny_model: Path, ref: Reference) -> None:
    with Stylizer(tiny_model, backend="openvino", precision="fp32") as st:
        assert st.info.precision == "fp32"
        batch = _batch()
        out = np.stack(st.stylize_batch(list(batch)))
    assert int(np.abs(out.astype(int) - ref(batch).astype(int)).max()) <= 1


@needs_openvino
def test_openvino_bf16_runs_only_where_the_cpu_has_it(tiny_model: Path, ref: Reference) -> None:
    if not cpu_has_bf16():
        with pytest.raises(BackendUnavailableError, match=r"bf16.*AMX or AVX512_BF16"):
            Stylizer(tiny_model, backend="openvino", precision="bf16")
        return
    with Stylizer(tiny_model, backend="openvino", precision="bf16") as st:
        assert st.info.precision == "bf16"
        batch = _batch()
        out = np.stack(st.stylize_batch(list(batch)))
    assert int(np.abs(out.astype(int) - ref(batch).astype(int)).max()) <= TOLERANCE["bf16"]


@needs_openvino
def test_openvino_auto_tolerance_follows_the_precision_reported(tiny_model: Path,
                                                                ref: Reference) -> None:
    config = BackendConfig(batch_size=1, precision="auto")
    backend, _ = open_backend("openvino", ModelSource(tiny_model, "onnx",
                                                      read_model_info(tiny_model)), config)
    try:
        precision = backend.info.precision
        assert precision == ("bf16" if cpu_has_bf16() else "fp32")
        batch = _batch(2)
        diff = np.abs(backend.run(batch).astype(int) - ref(batch).astype(int)).max()
        assert int(diff) <= TOLERANCE[precision]
    finally:
        backend.close()


def test_cli_precision_option(tiny_model: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from restyle.cli.main import main

    src = tmp_path / "in.png"
    Image.fromarray(_batch()[0]).save(src)
    assert main(["stylize", str(tiny_model), str(src), "-o", str(tmp_path / "o.png"),
                 "--backend", "ort_cpu", "--precision", "int4"]) == 2
    assert "int4" in capsys.readouterr().err
    assert main(["stylize", str(tiny_model), str(src), "-o", str(tmp_path / "o.png"),
                 "--backend", "ort_cpu", "--precision", "fp32"]) == 0
    assert (tmp_path / "o.png").exists()


def test_cli_bench_precision_reports_cpu_and_isa(tiny_model: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from restyle.cli.main import main

    out = tmp_path / "p.json"
    assert main(["bench", str(tiny_model), "--backend", "ort_cpu", "--precision", "fp32",
                 "--resolution", "32", "--repeat", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "x fp32" in text and f"ISA {cpu_isa()}" in text
    data = json.loads(out.read_text())
    assert data["rows"][0]["precision"] == "fp32" and data["ceilings_gflops"]["fp32"] > 0
