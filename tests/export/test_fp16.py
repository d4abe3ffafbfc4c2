"""Mixed-precision FP16: InstanceNorm/Resize stay FP32, uint8 I/O stays, PSNR gate on photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from restyle.errors import ConfigError, ExportError
from restyle.export import inspect, to_fp16
from restyle.export.fp16 import convert_to_mixed_fp16, psnr, sample_images
from restyle.export.verify import check_graph, ort_session


def _types(model: onnx.ModelProto) -> dict[str, int]:
    g = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*g.input, *g.output, *g.value_info)}
    types.update({t.name: t.data_type for t in g.initializer})
    return types


@pytest.fixture(scope="module")
def mixed(tiny_onnx: Path) -> onnx.ModelProto:
    return convert_to_mixed_fp16(onnx.load(str(tiny_onnx)))


def test_instance_norm_and_resize_stay_fp32_convolutions_become_fp16(
    mixed: onnx.ModelProto,
) -> None:
    check_graph(mixed)
    types = _types(mixed)
    kept = [n for n in mixed.graph.node if n.op_type in ("InstanceNormalization", "Resize")]
    convs = [n for n in mixed.graph.node if n.op_type == "Conv"]
    assert kept and convs
    for node in kept:
        floats = [types[t] for t in (node.input[0], *node.output)]
        assert floats == [TensorProto.FLOAT] * len(floats), node.name
    for node in (n for n in mixed.graph.node if n.op_type == "InstanceNormalization"):
        assert types[node.input[1]] == types[node.input[2]] == TensorProto.FLOAT  # scale, bias
    for node in convs:
        assert {types[t] for t in (*node.input, *node.output)} == {TensorProto.FLOAT16}


def test_uint8_io_is_unchanged(mixed: onnx.ModelProto) -> None:
    (inp,), (out,) = mixed.graph.input, mixed.graph.output
    assert inp.type.tensor_type.elem_type == out.type.tensor_type.elem_type == TensorProto.UINT8
    image = np.random.default_rng(0).integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)
    result = ort_session(mixed).run(None, {"image": image})[0]
    assert result.shape == image.shape and result.dtype == np.uint8


def test_to_fp16_passes_the_gate_on_photos(tiny_onnx: Path, tmp_path: Path) -> None:
    dst = tmp_path / "tiny-fp16.onnx"
    report = to_fp16(tiny_onnx, dst)
    assert set(report.psnr_db) == set(sample_images()) and len(report.psnr_db) >= 3
    assert report.min_psnr_db >= 40.0
    info = inspect(dst)
    assert info.precision == "fp16" and info.style == "tiny-test"
    assert dst.stat().st_size < tiny_onnx.stat().st_size


def test_a_failed_gate_writes_nothing(tiny_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="too far from the FP32"):
        to_fp16(tiny_onnx, tmp_path / "fp16.onnx", min_psnr_db=500.0)
    assert list(tmp_path.iterdir()) == []


def test_converting_an_fp16_file_or_onto_itself_is_refused(tiny_onnx: Path,
                                                          tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="input file"):
        to_fp16(tiny_onnx, tiny_onnx)
    dst = tmp_path / "once.onnx"
    to_fp16(tiny_onnx, dst)
    with pytest.raises(ConfigError, match="already fp16"):
        to_fp16(dst, tmp_path / "twice.onnx")


def test_psnr() -> None:
    a = np.zeros((4, 4), dtype=np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, np.full((4, 4), 255, dtype=np.uint8)) == pytest.approx(0.0)
    assert psnr(a.astype(float), np.full((4, 4), 2.55)) == pytest.approx(40.0)
