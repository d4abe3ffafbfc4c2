"""The full default chain on the reference architecture: every default check shape, and FP16."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from restyle.export import inspect, to_onnx
from restyle.export.verify import DEFAULT_CHECK_SHAPES
from restyle.training.models import create_model


@pytest.mark.slow
def test_johnson_with_the_default_check_shapes_and_fp16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = to_onnx(create_model("johnson"), tmp_path / "johnson.onnx", fp16=True,
                     style="johnson-random")
    assert [c.shape for c in result.verification.checks] == list(DEFAULT_CHECK_SHAPES)
    assert result.verification.max_diff <= 1
    assert result.fp16 is not None and result.fp16.min_psnr_db >= 40.0
    assert inspect(result.path).precision == "fp16"
