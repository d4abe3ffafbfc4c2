from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from restyle.errors import ModelFormatError
from restyle.modelinfo import read_metadata_props, read_model_info


def _identity_model(path: Path, props: dict[str, str]) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["stylized"])], "g",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, ["N", "H", "W", 3])],
    )
    model = helper.make_model(graph)
    helper.set_model_props(model, props)
    onnx.save(model, path)


def test_reads_props_like_onnx_does(tmp_path: Path) -> None:
    props = {"restyle.format_version": "1", "restyle.style": "mosaic", "restyle.arch": "compact",
             "restyle.arch_config": '{"width": 16}', "restyle.train_size": "256",
             "other": "ünïcode"}
    path = tmp_path / "m.onnx"
    _identity_model(path, props)
    assert read_metadata_props(path) == props
    info = read_model_info(path)
    assert (info.style, info.arch, info.arch_config, info.train_size) == (
        "mosaic", "compact", {"width": 16}, 256)


def test_plain_onnx_is_not_a_restyle_model(tmp_path: Path) -> None:
    path = tmp_path / "plain.onnx"
    _identity_model(path, {})
    with pytest.raises(ModelFormatError, match="not a restyle model"):
        read_model_info(path)


def test_newer_format_asks_for_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "future.onnx"
    _identity_model(path, {"restyle.format_version": "99"})
    with pytest.raises(ModelFormatError, match="upgrade restyle"):
        read_model_info(path)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 10, b"PNG\r\n\x1a\n" + bytes(100)])
def test_garbage_is_not_onnx(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError):
        read_metadata_props(path)


def test_unknown_name_lists_bundled_styles() -> None:
    with pytest.raises(ModelFormatError, match="bundled style"):
        read_model_info("no_such_style_name")
