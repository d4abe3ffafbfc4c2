"""Export refuses what would produce a broken model: NaN weights, and an ONNX file whose
metadata asks for an absurd architecture (checked before anything is allocated)."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch

from restyle.errors import ExportError, ModelFormatError
from restyle.export.chain import to_onnx
from restyle.export.reload import load_onnx_generator
from restyle.training.checkpoint import save_checkpoint
from restyle.training.models import create_model

SHAPES = [(1, 24, 32)]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path: Path, value: float) -> None:
    generator = create_model("compact", width=4, blocks=1)
    with torch.no_grad():
        next(iter(generator.parameters())).view(-1)[0] = value
    ckpt = save_checkpoint(tmp_path / "g.safetensors", generator=generator, style="x",
                           train_size=64, step=1)
    out = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=r"NaN or infinite.*earlier checkpoint"):
        to_onnx(ckpt, out, check_shapes=SHAPES)
    assert not out.exists()


def test_reexport_refuses_an_absurd_arch_config(checkpoint: Path, tmp_path: Path) -> None:
    result = to_onnx(checkpoint, tmp_path / "m.onnx", check_shapes=SHAPES)
    model = onnx.load(str(result.path))
    for prop in model.metadata_props:
        if prop.key == "restyle.arch_config":
            prop.value = json.dumps({"width": 60000, "blocks": 1})
    edited = tmp_path / "edited.onnx"
    onnx.save(model, str(edited))
    with pytest.raises(ModelFormatError, match=r"width=60000 is outside 1\.\.512"):
        load_onnx_generator(edited)
