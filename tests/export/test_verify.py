"""The checks an export must pass: onnx.checker and ONNX Runtime against PyTorch."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from export_helpers import TinyGenerator, make_tiny
from torch import nn

from restyle.errors import ConfigError, ExportError
from restyle.export.verify import check_graph, compare_with_torch, parse_shapes
from restyle.export.wrapper import ImageIO


def test_the_exported_graph_passes_the_full_check(tiny_onnx: Path) -> None:
    check_graph(onnx.load(str(tiny_onnx)))


def test_the_checker_rejects_a_broken_graph(tiny_onnx: Path) -> None:
    model = onnx.load(str(tiny_onnx))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    conv.input[1] = "no_such_tensor"
    with pytest.raises(ExportError, match="invalid"):
        check_graph(model)


def test_comparison_passes_against_the_source_module(tiny_onnx: Path, tiny: TinyGenerator) -> None:
    report = compare_with_torch(onnx.load(str(tiny_onnx)), ImageIO(tiny, size_multiple=4).eval(),
                                shapes=[(2, 40, 24)], seed=3)
    assert report.max_diff <= 1 and report.checks[0].shape == (2, 40, 24)


def test_comparison_catches_a_different_model(tiny_onnx: Path) -> None:
    other = make_tiny(seed=5)
    conv = other.body[1]
    assert isinstance(conv, nn.Conv2d)
    with torch.no_grad():
        conv.weight.mul_(3.0)
    with pytest.raises(ExportError, match=r"disagree at input \(1, 32, 32\)"):
        compare_with_torch(onnx.load(str(tiny_onnx)), ImageIO(other, size_multiple=4).eval(),
                           shapes=[(1, 32, 32)], seed=0)


def test_parse_shapes() -> None:
    assert parse_shapes("1x64x64,3x333x517") == ((1, 64, 64), (3, 333, 517))
    for bad in ("1x64", "1x64xW", "0x64x64", ""):
        with pytest.raises(ConfigError, match=r"NxHxW|≥ 1"):
            parse_shapes(bad)
