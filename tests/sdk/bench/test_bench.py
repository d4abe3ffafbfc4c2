"""`restyle bench` on a real (tiny) ONNX model: table, JSON, plot, baselines, skip reasons."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from restyle.bench.ceiling import matmul_ceiling_gflops
from restyle.bench.runner import BenchConfig, format_table, run_bench
from restyle.bench.timing import Timing, measure
from restyle.cli.bench import parse_resolution
from restyle.cli.main import main
from restyle.errors import ConfigError


def test_timing_statistics() -> None:
    t = Timing((1.0, 2.0, 3.0, 4.0, 100.0))
    assert t.median == 3.0
    assert t.p50 == 3.0
    assert 4.0 < t.p99 <= 100.0
    assert t.spread == pytest.approx((4.0 - 2.0) / 3.0)
    calls: list[int] = []
    timing = measure(lambda: calls.append(1), warmup=2, repeat=3)
    assert len(timing.samples) == 3 and len(calls) == 5


def test_matmul_ceiling_is_positive() -> None:
    assert matmul_ceiling_gflops(n=64, repeat=1) > 0


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="needs openvino")
def test_openvino_gemm_ceilings_per_precision() -> None:
    from restyle.bench.ceiling import openvino_gemm_ceiling
    from restyle.precision import cpu_has_bf16

    assert (openvino_gemm_ceiling("fp32", n=128, repeat=1) or 0) > 0
    assert (openvino_gemm_ceiling("int8", n=128, repeat=1) or 0) > 0
    bf16 = openvino_gemm_ceiling("bf16", n=128, repeat=1)
    assert (bf16 is not None) == cpu_has_bf16()  # never a bf16 figure where bf16 does not run


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="needs openvino")
def test_openvino_ceiling_measures_the_convolution_kernel_too() -> None:
    """The models run convolutions: a ceiling from the matrix product alone was 2.3× too low
    for int8 under AVX2 (a "FLOP efficiency" of 221%). Both forms must run in int8."""
    from restyle.bench.ceiling import _ov_rate

    for form in ("matmul", "conv"):
        assert (_ov_rate("int8", form, 128, 1) or 0) > 0, form
        assert (_ov_rate("fp32", form, 128, 1) or 0) > 0, form


@pytest.mark.parametrize(("text", "expected"), [("512", (512, 512)), ("720p", (720, 1280)),
                                                ("300x400", (300, 400)), ("64", (64, 64))])
def test_parse_resolution(text: str, expected: tuple[int, int]) -> None:
    assert parse_resolution(text) == expected


def test_parse_resolution_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="720p"):
        parse_resolution("big")


def test_run_bench_measures_backends_and_baselines(tiny_model: Path) -> None:
    cfg = BenchConfig(model=str(tiny_model), backends=("ort_cpu", "openvino"),
                      resolutions=((32, 48),), batches=(1, 2),
                      baselines=("torch-eager", "onnxruntime"), warmup=1, repeat=2, min_time=0)
    report = run_bench(cfg)
    names = {(r.name, r.batch) for r in report.results}
    assert {("restyle ort_cpu", 1), ("restyle openvino", 2), ("plain onnxruntime", 1)} <= names
    for r in report.results:
        assert r.fps > 0 and r.p99_ms >= r.p50_ms > 0 and r.peak_rss_mb > 0
    # the tiny test model has no PyTorch architecture: the eager baseline is skipped with a reason
    assert any("torch eager" in k and "tiny_conv" in v for k, v in report.skipped.items())
    table = format_table(report)
    assert "restyle openvino" in table and "GEMM ceilings per precision" in table
    assert "skipped" in table and f"ISA {report.machine['isa']}" in table
    for r in report.results:  # efficiency is against the ceiling of the precision executed
        assert r.precision in report.ceilings_gflops or r.flop_efficiency is None


def test_cli_bench_writes_json_and_plot(tiny_model: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_png = tmp_path / "r.json", tmp_path / "p.png"
    code = main(["bench", str(tiny_model), "--backend", "ort_cpu", "--resolution", "32",
                 "--batch", "1", "--batch", "2", "--baseline", "onnxruntime", "--repeat", "2",
                 "--json", str(out_json), "--plot", str(out_png)])
    assert code == 0
    assert "restyle ort_cpu" in capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert data["ceiling_gflops"] > 0 and "cpu" in data["machine"]
    assert {r["batch"] for r in data["results"]} == {1, 2}
    with Image.open(out_png) as img:
        assert img.size == (900, 560)


def test_measure_uses_a_device_timer_when_given() -> None:
    seen: list[int] = []

    def timer(call: object) -> float:
        seen.append(1)
        return 0.25

    timing = measure(lambda: None, warmup=1, repeat=3, timer=timer)
    assert timing.samples == (0.25, 0.25, 0.25) and len(seen) == 3


def test_unfolded_baselines_rerun_the_model_without_the_rewrites(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from restyle.export import to_onnx
    from restyle.training.models import create_model

    torch.manual_seed(0)
    generator = create_model("compact", width=4, blocks=1).eval()
    folded = to_onnx(generator, tmp_path / "c.onnx", check_shapes=[(1, 32, 32)]).path
    plain = to_onnx(generator, tmp_path / "p.onnx", fold_upsampling=False,
                    check_shapes=[(1, 32, 32)]).path
    cfg = BenchConfig(model=str(folded), backends=("ort_cpu",), resolutions=((32, 48),),
                      baselines=("unfolded",), warmup=1, repeat=2, min_time=0)
    names = {r.name for r in run_bench(cfg).results}
    assert {"plain onnxruntime, unfolded export", "plain openvino, unfolded export"} <= names
    again = run_bench(BenchConfig(**{**cfg.__dict__, "model": str(plain)}))
    assert not any("unfolded" in r.name for r in again.results)  # nothing to unfold
