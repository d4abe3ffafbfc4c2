"""Triton model repositories: config.pbtxt parsed back with Triton's own ModelConfig protobuf and
checked against the real inputs and outputs of the exported ONNX file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from export_helpers import QUICK_SHAPES, TinyGenerator

from restyle.errors import ConfigError, ModelFormatError
from restyle.export.chain import to_onnx
from restyle.export.triton import triton_config, write_triton_repo
from restyle.modelinfo import IO_FLOAT32_NCHW

mc = pytest.importorskip("tritonclient.grpc.model_config_pb2",
                         reason="tritonclient not installed (pip install 'restyle[triton]')")
text_format = pytest.importorskip("google.protobuf.text_format")

ORT_TO_TRITON = {"tensor(uint8)": "TYPE_UINT8", "tensor(float)": "TYPE_FP32"}


def _read_config(model_dir: Path) -> Any:
    return text_format.Parse((model_dir / "config.pbtxt").read_text(), mc.ModelConfig())


def _check_against_onnx(config: Any, model: Path) -> None:
    """Every config input/output is a real graph input/output with its type and shape."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    for declared, real in ((config.input, session.get_inputs()),
                           (config.output, session.get_outputs())):
        assert [t.name for t in declared] == [r.name for r in real]
        for t, r in zip(declared, real, strict=True):
            assert mc.DataType.Name(t.data_type) == ORT_TO_TRITON[r.type]
            dims = [d if isinstance(d, int) else -1 for d in r.shape]
            assert dims[0] == -1  # the batch dimension Triton adds in front
            assert list(t.dims) == dims[1:]


def test_onnx_repo_config_matches_the_model(tiny_onnx: Path, tmp_path: Path) -> None:
    model_dir = write_triton_repo(tiny_onnx, tmp_path / "repo", max_batch_size=8,
                                  instance_count=2, kind="KIND_CPU", max_queue_delay_us=500)
    assert model_dir == tmp_path / "repo" / "tiny-test"  # the style name
    assert (model_dir / "1" / "model.onnx").read_bytes() == tiny_onnx.read_bytes()
    config = _read_config(model_dir)
    assert config.name == "tiny-test" and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 8
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert [(g.count, mc.ModelInstanceGroup.Kind.Name(g.kind))
            for g in config.instance_group] == [(2, "KIND_CPU")]
    assert list(config.input[0].dims) == [-1, -1, 3]
    assert mc.ModelInput.Format.Name(config.input[0].format) == "FORMAT_NHWC"
    _check_against_onnx(config, model_dir / "1" / "model.onnx")
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["tiny-test"]  # no leftovers


def test_client_request_matches_the_config(tiny_onnx: Path, tmp_path: Path) -> None:
    """What the documented tritonclient example sends fits the written config."""
    grpcclient = pytest.importorskip("tritonclient.grpc")
    config = _read_config(write_triton_repo(tiny_onnx, tmp_path / "repo", kind="KIND_CPU"))
    batch = np.zeros((2, 24, 40, 3), np.uint8)
    request = grpcclient.InferInput(config.input[0].name, list(batch.shape), "UINT8")
    request.set_data_from_numpy(batch)
    assert "TYPE_" + request.datatype() == mc.DataType.Name(config.input[0].data_type)
    assert len(request.shape()) == len(config.input[0].dims) + 1
    assert request.shape()[0] <= config.max_batch_size


def test_float32_nchw_model(tiny: TinyGenerator, tmp_path: Path) -> None:
    model = to_onnx(tiny, tmp_path / "f32.onnx", io=IO_FLOAT32_NCHW, check_shapes=QUICK_SHAPES,
                    seed=0, style="f32").path
    config = _read_config(write_triton_repo(model, tmp_path / "repo", name="f32_model"))
    assert config.name == "f32_model"
    assert list(config.input[0].dims) == [3, -1, -1]
    assert mc.ModelInput.Format.Name(config.input[0].format) == "FORMAT_NCHW"
    assert [mc.ModelInstanceGroup.Kind.Name(g.kind) for g in config.instance_group] == ["KIND_GPU"]
    _check_against_onnx(config, model)


def test_engine_gives_a_tensorrt_plan_repo(tiny_onnx: Path, tmp_path: Path) -> None:
    # The repository only copies the engine's bytes; any file stands in for a built engine here.
    engine = tmp_path / "tiny.engine"
    engine.write_bytes(b"serialized engine bytes")
    model_dir = write_triton_repo(tiny_onnx, tmp_path / "repo", engine_path=engine)
    assert (model_dir / "1" / "model.plan").read_bytes() == engine.read_bytes()
    assert not (model_dir / "1" / "model.onnx").exists()
    config = _read_config(model_dir)
    assert config.platform == "tensorrt_plan"
    _check_against_onnx(config, tiny_onnx)
    with pytest.raises(ConfigError, match="GPU only"):
        write_triton_repo(tiny_onnx, tmp_path / "repo2", engine_path=engine, kind="KIND_CPU")
    with pytest.raises(ModelFormatError, match="does not exist"):
        write_triton_repo(tiny_onnx, tmp_path / "repo2", engine_path=tmp_path / "missing.plan")


def test_versions_and_overwrite(tiny_onnx: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    model_dir = write_triton_repo(tiny_onnx, repo, kind="KIND_CPU")
    with pytest.raises(ConfigError, match="overwrite"):
        write_triton_repo(tiny_onnx, repo, kind="KIND_CPU")
    write_triton_repo(tiny_onnx, repo, version=2, kind="KIND_CPU", max_batch_size=4)
    assert sorted(p.name for p in model_dir.iterdir()) == ["1", "2", "config.pbtxt"]
    assert _read_config(model_dir).max_batch_size == 4
    (model_dir / "1" / "model.onnx").write_bytes(b"stale")
    write_triton_repo(tiny_onnx, repo, kind="KIND_CPU", overwrite=True)
    assert (model_dir / "1" / "model.onnx").read_bytes() == tiny_onnx.read_bytes()
    assert sorted(p.name for p in model_dir.iterdir()) == ["1", "2", "config.pbtxt"]
    engine = tmp_path / "tiny.engine"
    engine.write_bytes(b"engine")
    with pytest.raises(ConfigError, match="platform onnxruntime_onnx"):
        write_triton_repo(tiny_onnx, repo, version=3, engine_path=engine)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "GPU"}, "instance kind"),
    ({"max_batch_size": -1}, "out of range"),
    ({"instance_count": 0}, "out of range"),
    ({"name": "../escape"}, "plain folder name"),
    ({"version": 0}, "at least 1"),
])
def test_bad_arguments(tiny_onnx: Path, tmp_path: Path, kwargs: dict[str, object],
                       match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        write_triton_repo(tiny_onnx, tmp_path / "repo", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "repo").exists() or not any((tmp_path / "repo").iterdir())


def test_not_a_restyle_model(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, ["N", "H", "W", 3])])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(plain))
    with pytest.raises(ModelFormatError, match="not a restyle model"):
        write_triton_repo(plain, tmp_path / "repo")


def test_fixed_batch_needs_max_batch_size_zero(tiny_onnx: Path, tmp_path: Path) -> None:
    model = onnx.load(str(tiny_onnx))
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    fixed = tmp_path / "fixed.onnx"
    onnx.save(model, str(fixed))
    with pytest.raises(ConfigError, match="max_batch_size=0"):
        triton_config(fixed, name="fixed")
    config = triton_config(fixed, name="fixed", max_batch_size=0)
    assert list(config.input[0].dims) == [1, -1, -1, 3]
    assert not config.HasField("dynamic_batching")


def test_a_model_with_shapes_warns_that_triton_does_not_paint(
        tiny_onnx: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from restyle.shapes import SHAPES_KEY, ShapeMap

    labels = np.ones((8, 8), np.int32)
    labels[:, 4:] = 2
    shapes = ShapeMap(labels, np.zeros((8, 8, 3), np.uint8), np.zeros((3, 3), np.float32), None)
    model = onnx.load(str(tiny_onnx))
    entry = model.metadata_props.add()
    entry.key, entry.value = SHAPES_KEY, shapes.to_text()
    with_shapes = tmp_path / "shapes.onnx"
    onnx.save(model, str(with_shapes))
    with caplog.at_level("WARNING", logger="restyle.export.triton"):
        write_triton_repo(with_shapes, tmp_path / "repo", kind="KIND_CPU")
    assert "Triton does not paint" in caplog.text and "ShapePainter" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="restyle.export.triton"):
        write_triton_repo(tiny_onnx, tmp_path / "repo2", kind="KIND_CPU")
    assert "paint" not in caplog.text
