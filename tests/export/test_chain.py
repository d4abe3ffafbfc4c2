"""to_onnx: a dynamic-shape uint8 graph that matches PyTorch, the fallback, and failures."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export_helpers import QUICK_SHAPES, TinyGenerator, make_tiny
from torch import nn

from restyle.errors import ConfigError, ExportError, OutputError
from restyle.export.chain import ExportResult, to_onnx
from restyle.export.verify import ort_session
from restyle.export.wrapper import ImageIO
from restyle.modelinfo import IO_FLOAT32_NCHW


def _dims(value: onnx.ValueInfoProto) -> list[str | int]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_graph_has_uint8_nhwc_io_with_dynamic_dims(tiny_export: ExportResult) -> None:
    model = onnx.load(str(tiny_export.path))
    assert tiny_export.exporter == "dynamo"
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("image", "stylized")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert out.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert _dims(inp) == _dims(out) == ["batch", "height", "width", 3]
    ops = Counter(n.op_type for n in model.graph.node)
    # Scaling, layout, padding, clamping and rounding are graph nodes, not runtime code.
    for op in ("Cast", "Transpose", "Div", "Pad", "Slice", "Clip", "Round", "InstanceNormalization",
               "ConvTranspose"):
        assert ops[op] >= 1, op
    # Both upsample + convolution pairs were folded (restyle.export.rewrite): no Resize left.
    assert ops["Resize"] == 0 and ops["ConvTranspose"] == 2
    assert tiny_export.info.graph_rewrites == "fold_upsampling"
    assert tiny_export.nodes == len(model.graph.node)
    assert tiny_export.size_bytes == tiny_export.path.stat().st_size


def test_verification_report(tiny_export: ExportResult) -> None:
    report = tiny_export.verification
    assert [c.shape for c in report.checks] == list(QUICK_SHAPES)
    assert report.max_diff <= 1 and report.seed == 0
    assert all(c.mismatched == 0 for c in report.checks)


@pytest.mark.parametrize("shape", [(1, 333, 517), (2, 65, 97), (1, 17, 23), (4, 64, 64)])
def test_onnx_runtime_matches_pytorch_at_any_size(
    tiny_onnx: Path, tiny: TinyGenerator, shape: tuple[int, int, int]
) -> None:
    n, h, w = shape
    image = np.random.default_rng(sum(shape)).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    out = ort_session(onnx.load(str(tiny_onnx))).run(None, {"image": image})[0]
    with torch.inference_mode():
        ref = ImageIO(tiny, size_multiple=4)(torch.from_numpy(image)).numpy()
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_float32_nchw_variant(tmp_path: Path) -> None:
    result = to_onnx(make_tiny(2), tmp_path / "f32.onnx", io=IO_FLOAT32_NCHW,
                     check_shapes=[(2, 37, 53)], seed=1)
    model = onnx.load(str(result.path))
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("input", "output")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert _dims(inp) == _dims(out) == ["batch", 3, "height", "width"]
    assert result.info.io == IO_FLOAT32_NCHW and result.verification.max_diff <= 1


def test_unfolded_export_keeps_resize_and_matches_the_folded_one(
    tmp_path: Path, tiny_onnx: Path
) -> None:
    result = to_onnx(make_tiny(), tmp_path / "plain.onnx", fold_upsampling=False,
                     check_shapes=[(1, 37, 53)], seed=2)
    ops = Counter(n.op_type for n in onnx.load(str(result.path)).graph.node)
    assert ops["Resize"] == 2 and ops["ConvTranspose"] == 0
    assert result.info.graph_rewrites == ""
    image = np.random.default_rng(3).integers(0, 256, (2, 45, 61, 3), dtype=np.uint8)
    plain = ort_session(onnx.load(str(result.path))).run(None, {"image": image})[0]
    folded = ort_session(onnx.load(str(tiny_onnx))).run(None, {"image": image})[0]
    assert np.abs(plain.astype(int) - folded.astype(int)).max() <= 1


class _DataDependent(nn.Module):
    """Python control flow on a tensor value: torch.export refuses it, TorchScript tracing
    records the branch taken (always the first for images in [0, 1])."""

    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() >= 0:
            return torch.sigmoid(self.conv(x))
        return x


def test_falls_back_to_the_legacy_exporter_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="restyle.export"):
        result = to_onnx(_DataDependent(), tmp_path / "legacy.onnx", check_shapes=[(1, 19, 23)])
    assert result.exporter == "legacy"
    assert any("dynamo ONNX exporter failed" in r.getMessage() and "legacy" in r.getMessage()
               for r in caplog.records)
    assert result.verification.max_diff <= 1


class _Noisy(nn.Module):
    """Exports fine, but its output is random: ONNX Runtime cannot match PyTorch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.rand_like(x)


def test_failed_verification_stops_the_export_and_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(ExportError, match="disagree"):
        to_onnx(_Noisy(), target, check_shapes=[(1, 16, 16)])
    assert target.read_bytes() == b"previous"  # the old file is intact ...
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # ... and no temporary is left


def test_unwritable_output_is_an_output_error(tmp_path: Path, tiny: TinyGenerator) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="writable"):
        to_onnx(tiny, blocker / "model.onnx")


def test_output_cannot_be_the_checkpoint(checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match="checkpoint"):
        to_onnx(checkpoint, checkpoint)


def test_an_export_is_always_checked(tmp_path: Path, tiny: TinyGenerator) -> None:
    with pytest.raises(ConfigError, match="check shape"):
        to_onnx(tiny, tmp_path / "x.onnx", check_shapes=[])
    assert list(tmp_path.iterdir()) == []


def test_unsupported_source_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nn\.Module"):
        to_onnx(42, tmp_path / "x.onnx")  # type: ignore[arg-type]
