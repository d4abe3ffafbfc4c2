"""Re-exporting a restyle ONNX model: its generator read back from the file, folds undone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from restyle.errors import ModelFormatError
from restyle.export.chain import to_onnx
from restyle.export.reload import load_onnx_generator
from restyle.export.verify import ort_session
from restyle.training.checkpoint import load_generator

SHAPES = [(1, 37, 53)]


def _run(path: Path, image: np.ndarray) -> np.ndarray:
    out: np.ndarray = ort_session(onnx.load(str(path))).run(None, {"image": image})[0]
    return out


@pytest.mark.parametrize("fold", [True, False])
def test_onnx_file_gives_back_the_checkpoint_weights(checkpoint: Path, tmp_path: Path,
                                                     fold: bool) -> None:
    first = to_onnx(checkpoint, tmp_path / "first.onnx", fold_upsampling=fold,
                    check_shapes=SHAPES, seed=0)
    original = load_generator(checkpoint)
    back = load_onnx_generator(first.path)
    assert (back.arch, back.arch_config, back.style) == (original.arch, original.arch_config,
                                                         "mosaic")
    assert (back.attribution, back.license, back.sha256) == (
        "drawn by a test", "CC-BY-4.0", original.sha256)
    for key, value in original.module.state_dict().items():
        torch.testing.assert_close(back.module.state_dict()[key], value, atol=1e-6, rtol=1e-5)


def test_reexport_keeps_outputs_and_metadata(checkpoint: Path, tmp_path: Path) -> None:
    old = to_onnx(checkpoint, tmp_path / "old.onnx", fold_upsampling=False, check_shapes=SHAPES)
    new = to_onnx(old.path, tmp_path / "new.onnx", check_shapes=SHAPES)
    assert new.info.graph_rewrites == "fold_upsampling" and old.info.graph_rewrites == ""
    assert new.info.checkpoint_sha256 == old.info.checkpoint_sha256
    image = np.random.default_rng(0).integers(0, 256, (2, 41, 67, 3), dtype=np.uint8)
    diff = np.abs(_run(old.path, image).astype(int) - _run(new.path, image).astype(int))
    assert diff.max() <= 1


def test_fp16_file_reloads_as_float32(checkpoint: Path, tmp_path: Path) -> None:
    half = to_onnx(checkpoint, tmp_path / "half.onnx", fp16=True, check_shapes=SHAPES)
    back = load_onnx_generator(half.path)
    assert all(p.dtype == torch.float32 for p in back.module.parameters())
    again = to_onnx(half.path, tmp_path / "again.onnx", check_shapes=SHAPES)
    assert again.info.precision == "fp32"


def test_foreign_onnx_file_is_refused(tmp_path: Path) -> None:
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    path = tmp_path / "foreign.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(ModelFormatError, match="not a restyle model"):
        load_onnx_generator(path)


def test_weights_that_do_not_fit_are_refused(checkpoint: Path, tmp_path: Path) -> None:
    result = to_onnx(checkpoint, tmp_path / "m.onnx", check_shapes=SHAPES)
    model = onnx.load(str(result.path))
    victim = next(i for i in model.graph.initializer if i.name.startswith("generator."))
    model.graph.initializer.remove(victim)
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    with pytest.raises(ModelFormatError, match=r"convolution/norm layers|no weights for"):
        load_onnx_generator(broken)


def test_reexport_onto_itself_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    result = to_onnx(checkpoint, tmp_path / "m.onnx", check_shapes=SHAPES)
    from restyle.errors import ConfigError

    with pytest.raises(ConfigError, match="being exported"):
        to_onnx(result.path, result.path, check_shapes=SHAPES)
