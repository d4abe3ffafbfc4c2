"""Self-describing files: metadata_props written from modelinfo.KEYS, read by inspect and info."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from restyle._version import __version__
from restyle.cli.main import main
from restyle.errors import ModelFormatError
from restyle.export import inspect
from restyle.export.chain import ExportResult
from restyle.export.metadata import metadata_props
from restyle.modelinfo import KEYS, PREFIX, ModelInfo


def test_every_key_is_written(tiny_onnx: Path) -> None:
    props = {p.key: p.value for p in onnx.load(str(tiny_onnx)).metadata_props}
    assert {PREFIX + k for k in KEYS} <= set(props)


def test_inspect_reads_back_what_export_wrote(tiny_export: ExportResult) -> None:
    info = inspect(tiny_export.path)
    assert info == tiny_export.info
    assert (info.style, info.arch, info.arch_config) == ("tiny-test", "tiny", {"width": 4})
    assert (info.description, info.attribution, info.license) == (
        "a tiny test style", "random weights", "CC0-1.0")
    assert (info.train_size, info.io, info.precision) == (64, "uint8_nhwc", "fp32")
    assert (info.input_name, info.output_name) == ("image", "stylized")
    assert info.restyle_version == __version__ and info.format_version == 1
    assert info.checkpoint_sha256 == ""  # exported from a module, not a checkpoint


def test_metadata_props_round_trip() -> None:
    info = ModelInfo(path="", style="s", arch="johnson", arch_config={"width": 8, "blocks": 2},
                     train_size=None, checkpoint_sha256="ab" * 32, license="MIT")
    props = metadata_props(info)
    assert set(props) == {PREFIX + k for k in KEYS}
    assert props[PREFIX + "train_size"] == ""
    assert json.loads(props[PREFIX + "arch_config"]) == {"width": 8, "blocks": 2}
    assert ModelInfo.from_props("x", props) == replace(info, path="x")


def test_restyle_info_prints_the_metadata(
    tiny_onnx: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tiny_onnx)]) == 0
    out = capsys.readouterr().out
    for text in ("tiny-test", "random weights", "CC0-1.0", "uint8_nhwc", '{"width": 4}'):
        assert text in out
    assert main(["info", "--json", str(tiny_onnx)]) == 0
    assert json.loads(capsys.readouterr().out)["style"] == "tiny-test"


def test_a_plain_onnx_file_is_not_a_restyle_model(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ModelFormatError, match="not a restyle model"):
        inspect(path)


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xfe this is not protobuf \x00\x01")
    with pytest.raises(ModelFormatError, match="not an ONNX model"):
        inspect(garbage)
    with pytest.raises(ModelFormatError, match="does not exist"):
        inspect(tmp_path / "missing.onnx")
