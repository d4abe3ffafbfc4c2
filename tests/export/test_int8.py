"""int8 models: NNCF quantisation of a real (tiny) export, the held-out gate, and how Stylizer
uses, refuses and falls back from them. Tolerances follow the precision the runtime reports."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from restyle import Stylizer
from restyle.cli.main import main
from restyle.errors import ConfigError, ModelFormatError, QualityGateError
from restyle.export.chain import ExportResult
from restyle.export.int8 import calibration_crops, heldout_photos, quantize
from restyle.export.int8_restore import quantised_layers, restore_float
from restyle.modelinfo import read_model_info
from restyle.paths import file_sha256
from restyle.precision import (
    graph_precision,
    int8_path,
    psnr,
)
from restyle.precision_choice import auto_order
from restyle.samples import sample_photos

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("nncf") is None,
                       reason="nncf not installed (pip install 'restyle[int8]')"),
    pytest.mark.skipif(importlib.util.find_spec("skimage") is None,
                       reason="scikit-image (the held-out photos) not installed"),
]
QUICK = {"crops": 4, "crop_size": 64}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bf16 gate is cached in the user cache: keep the tests' measurements out of it."""
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def float_model(tmp_path_factory: pytest.TempPathFactory, tiny_export: ExportResult) -> Path:
    path = tmp_path_factory.mktemp("int8") / "tiny.onnx"
    shutil.copyfile(tiny_export.path, path)
    return path


@pytest.fixture(scope="module")
def int8_model(float_model: Path) -> Path:
    """The tiny export quantised with the gate off (a few-hundred-parameter random network is not
    what the 35 dB default is for); each test sets the gate it checks."""
    return quantize(float_model, min_psnr_db=0.0, **QUICK).path


def test_quantize_writes_a_qdq_model_with_its_record(float_model: Path, int8_model: Path) -> None:
    assert int8_model == int8_path(float_model) and int8_model.exists()
    assert graph_precision(int8_model) == "int8"
    info = read_model_info(int8_model)
    q = info.quantization
    assert info.precision == "int8" and info.style == "tiny-test"
    assert q["recipe"]["preset"] == "mixed"
    assert q["recipe"]["ignored_types"] == ["InstanceNormalization", "Add"]
    assert q["float_layers"] == {"restored": {}, "quantised": len(quantised_layers(
        onnx.load(str(int8_model))))}
    assert q["recipe"]["activations_range"] == "histogram"
    assert q["calibration"]["crops"] == 4
    assert q["calibration"]["photos"] == [p.name for p in sample_photos()]
    assert q["source_sha256"] == file_sha256(float_model)
    gate = q["gate"]
    assert "scikit-image" in gate["photos"] and len(gate["psnr_db"]) >= 1
    assert not set(gate["psnr_db"]) & {p.stem for p in sample_photos()}  # held out
    assert gate["min_psnr_db"] == min(gate["psnr_db"].values())
    # the gate holds at 1080p too: each held-out photo also enlarged to a 1080p frame
    large = q["at_1080p"]["psnr_db"]
    assert len(large) * 2 == len(gate["psnr_db"]) and set(large) < set(gate["psnr_db"])
    assert gate["min_psnr_db"] <= q["at_1080p"]["min_psnr_db"]


def test_stylizer_runs_the_int8_model_and_reports_int8(float_model: Path,
                                                       int8_model: Path) -> None:
    photo = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).open(sample_photos()[1]).convert("RGB"))
    recorded = read_model_info(int8_model).quantization["gate"]["min_psnr_db"]
    with Stylizer(float_model, backend="ort_cpu", precision="fp32") as st:
        ref = st(photo)
    with Stylizer(float_model, backend="openvino", precision="int8",
                  min_psnr_db=recorded - 1) as st:
        assert st.info.precision == "int8" and st.info.model_path == str(int8_model)
        assert "int8 with fp32" in st.info.detail
        out = st(photo)
    assert psnr(ref, out) > 20  # int8 on a random tiny network: close, not exact
    with Stylizer(int8_model, backend="ort_cpu") as st:  # an int8 file named directly
        assert st.info.precision == "int8"


def test_gate_refuses_with_the_measured_number(float_model: Path, tmp_path: Path) -> None:
    with pytest.raises(QualityGateError, match=r"int8 refused .* min \d+\.\d dB"):
        quantize(float_model, tmp_path / "never.onnx", min_psnr_db=200.0, **QUICK)
    assert not (tmp_path / "never.onnx").exists()


def _ort(model: onnx.ModelProto | Path, scratch: Path) -> Stylizer:
    path = model
    if isinstance(model, onnx.ModelProto):
        path = scratch / f"candidate-{len(list(scratch.iterdir()))}.onnx"
        onnx.save(model, str(path))
    return Stylizer(path, backend="ort_cpu")


def test_restoring_layers_brings_the_int8_model_back_to_fp32(float_model: Path,
                                                             int8_model: Path,
                                                             tmp_path: Path) -> None:
    fp32, int8 = onnx.load(str(float_model)), onnx.load(str(int8_model))
    layers = quantised_layers(int8)
    assert layers and quantised_layers(fp32) == []
    one = restore_float(int8, fp32, layers[:1])
    onnx.checker.check_model(one)
    assert quantised_layers(one) == layers[1:]
    every = restore_float(int8, fp32, layers)
    onnx.checker.check_model(every)
    assert quantised_layers(every) == []
    assert not any(n.op_type == "QuantizeLinear" and "relu" in n.name for n in every.graph.node)
    photo = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).open(sample_photos()[0]).convert("RGB"))
    with _ort(float_model, tmp_path) as st:
        ref = st(photo)
    with _ort(int8, tmp_path) as st:
        quantised = psnr(ref, st(photo))
    with _ort(every, tmp_path) as st:
        restored = psnr(ref, st(photo))
    assert restored > quantised + 3 and restored > 40
    with pytest.raises(KeyError):
        restore_float(int8, fp32, ["no-such-layer"])


def test_gate_restores_the_costliest_layers_to_float_to_pass(float_model: Path,
                                                            int8_model: Path,
                                                            tmp_path: Path) -> None:
    recorded = read_model_info(int8_model).quantization["gate"]["min_psnr_db"]
    layers = quantised_layers(onnx.load(str(int8_model)))
    want = recorded + 0.5
    report = quantize(float_model, tmp_path / "kept.onnx", min_psnr_db=want,
                      max_float_layers=len(layers), **QUICK)
    restored = report.info.quantization["float_layers"]["restored"]
    assert restored and set(restored) <= set(layers)
    assert report.gate.min_psnr_db >= want
    assert quantised_layers(onnx.load(str(report.path))) == [n for n in layers
                                                             if n not in restored]
    with pytest.raises(QualityGateError, match=r"with 1 of its \d+ convolutions in float"):
        quantize(float_model, tmp_path / "never.onnx", min_psnr_db=200.0, max_float_layers=1,
                 **QUICK)
    with pytest.raises(QualityGateError) as refused:
        quantize(float_model, tmp_path / "never.onnx", min_psnr_db=200.0, max_float_layers=0,
                 **QUICK)
    assert "in float" not in str(refused.value)
    assert not (tmp_path / "never.onnx").exists()


def test_explicit_int8_is_refused_and_auto_falls_back_below_the_gate(
        float_model: Path, int8_model: Path) -> None:
    recorded = read_model_info(int8_model).quantization["gate"]["min_psnr_db"]
    with pytest.raises(QualityGateError, match=f"{recorded:.1f} dB"):
        Stylizer(float_model, backend="openvino", precision="int8", min_psnr_db=recorded + 1)
    with Stylizer(float_model, backend="openvino", min_psnr_db=recorded + 1) as st:
        assert st.info.precision in ("fp32", "bf16")
        assert st.info.model_path == str(float_model)


def test_auto_uses_a_passing_int8_model_where_it_is_fastest(float_model: Path,
                                                             int8_model: Path) -> None:
    recorded = read_model_info(int8_model).quantization["gate"]["min_psnr_db"]
    with Stylizer(float_model, backend="openvino", min_psnr_db=recorded - 1) as st:
        # int8 first where it is the faster format (auto_order); on AMX bf16 comes first
        expected = {"int8"} if auto_order()[0] == "int8" else {"bf16", "int8"}
        assert st.info.precision in expected
    with Stylizer(float_model, backend="ort_cpu") as st:  # int8 does not pay on ONNX Runtime
        assert st.info.precision == "fp32"


def test_a_changed_float_model_invalidates_its_int8_model(float_model: Path, int8_model: Path,
                                                         tmp_path: Path) -> None:
    moved = tmp_path / "tiny.onnx"
    data = bytearray(float_model.read_bytes())
    moved.write_bytes(bytes(data) + b"")  # same bytes: accepted
    shutil.copyfile(int8_model, int8_path(moved))
    with Stylizer(moved, backend="ort_cpu", precision="int8", min_psnr_db=0) as st:
        assert st.info.precision == "int8"
    import onnx

    model = onnx.load(str(moved))
    model.doc_string = "edited"
    onnx.save(model, str(moved))
    with pytest.raises(ModelFormatError, match="another version"):
        Stylizer(moved, backend="ort_cpu", precision="int8", min_psnr_db=0)


def test_calibration_crops_are_deterministic_and_sized() -> None:
    a = calibration_crops(sample_photos(), count=5, size=96, seed=3)
    b = calibration_crops(sample_photos(), count=5, size=96, seed=3)
    assert [c.shape for c in a] == [(96, 96, 3)] * 5
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ConfigError):
        calibration_crops(sample_photos(), count=0, size=96)


def test_calibration_crops_include_enlarged_photos() -> None:
    """A 1080p frame of a smaller photo is smoother than any crop of the photo at its size: the
    calibration sees enlarged crops too (their high-frequency energy is lower)."""
    def detail(crops: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(np.diff(c.astype(np.float32), axis=1)).mean()
                              for c in crops]))

    shrunk = calibration_crops(sample_photos(), count=24, size=64, seed=0, max_scale=1.0)
    enlarged = calibration_crops(sample_photos(), count=24, size=64, seed=0)
    assert detail(enlarged) < 0.9 * detail(shrunk)


def test_heldout_photos_never_overlap_the_calibration(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copyfile(sample_photos()[0], folder / "a.jpg")
    photos, label = heldout_photos(None, calibration=[folder / "a.jpg"])
    assert label == "restyle's bundled photos" and len(photos) == len(sample_photos())
    with pytest.raises(ConfigError, match="also calibration photos"):
        heldout_photos(folder, calibration=[folder / "a.jpg"])


def test_cli_quantize_and_refusal(float_model: Path, int8_model: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.int8.onnx"
    assert main(["quantize", str(float_model), "-o", str(out), "--crops", "2", "--crop-size",
                 "64", "--min-psnr", "0"]) == 0
    text = capsys.readouterr().out
    assert "int8" in text and "held-out" in text and out.exists()
    assert main(["quantize", str(float_model), "-o", str(tmp_path / "x.onnx"), "--crops", "2",
                 "--crop-size", "64", "--min-psnr", "300"]) != 0
    assert "int8 refused" in capsys.readouterr().err
    recorded = read_model_info(int8_model).quantization["gate"]["min_psnr_db"]
    assert main(["quantize", str(float_model), "-o", str(tmp_path / "kept.onnx"), "--crops",
                 "4", "--crop-size", "64", "--min-psnr", f"{recorded + 0.5:.2f}",
                 "--max-float-layers", "99"]) == 0
    assert "(restored to pass the gate)" in capsys.readouterr().out


def test_bench_precision_rows_report_what_ran(float_model: Path, int8_model: Path,
                                             tmp_path: Path) -> None:
    from restyle.bench.precision import format_precision_table, measure_precisions

    report = measure_precisions([float_model], backends=["openvino"], precisions=["all"],
                                resolutions=[(32, 48)], rounds=2, scratch=tmp_path,
                                ceilings={"fp32": 100.0, "int8": 200.0})
    rows = {r.requested: r for r in report.rows}
    assert rows["fp32"].ratio_to_fp32 == 1.0 and rows["fp32"].psnr_min_db is None
    assert rows["int8"].precision == "int8" and rows["int8"].psnr_min_db is not None
    assert rows["int8"].psnr_min_db <= rows["int8"].psnr_mean_db
    assert "bf16" in rows or any("bf16" in k for k in report.skipped)
    if "fp16" in rows:  # OpenVINO runs fp16 on CPUs with AVX512_FP16 (Sapphire Rapids and on)
        assert rows["fp16"].precision == "fp16" and rows["fp16"].psnr_min_db is not None
    else:  # elsewhere no fp16 on the CPU: said, not hidden
        assert any("fp16" in k for k in report.skipped)
    table = format_precision_table(report)
    assert "x fp32" in table and report.isa in table


def test_cli_export_int8_writes_both_models(checkpoint: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.onnx"
    assert main(["export", str(checkpoint), "--onnx", str(out), "--int8", "--crops", "2",
                 "--crop-size", "64", "--min-psnr", "0", "--check-shapes", "1x64x64"]) == 0
    text = capsys.readouterr().out
    assert out.exists() and int8_path(out).exists() and "int8" in text and "at 1080p" in text
    assert read_model_info(int8_path(out)).quantization["source_sha256"] == file_sha256(out)
    assert main(["export", str(checkpoint), "--onnx", str(tmp_path / "n.onnx"), "--int8",
                 "--fp16"]) == 2  # int8 quantises the fp32 model: refused before exporting


@pytest.mark.slow
def test_the_recipe_keeps_a_realtime_style_at_1080p(tmp_path: Path) -> None:
    """The bundled ``ink`` (``realtime``) with the default recipe: 1080p frames stay near the
    gate (35.1 dB on Zen 4); 256² calibration crops gave 30.0 there."""
    from restyle.styles import resolve_model

    src = Path(shutil.copyfile(resolve_model("ink"), tmp_path / "ink.onnx"))
    report = quantize(src, min_psnr_db=0.0)
    assert report.calibration["crop_size"] == 512
    assert report.large is not None and report.large.min_psnr_db > 33.0, report.large
