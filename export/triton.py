"""A Triton Inference Server model repository for a restyle model (``restyle export --triton``).

Layout written (Triton's own)::

    REPO_DIR/NAME/config.pbtxt     platform, max_batch_size, inputs/outputs, batching, instances
    REPO_DIR/NAME/1/model.onnx     (platform onnxruntime_onnx)  or
    REPO_DIR/NAME/1/model.plan     (platform tensorrt_plan, when an engine is given)

``config.pbtxt`` is built as Triton's ``ModelConfig`` protobuf message (from ``tritonclient``) and
written with protobuf's text format, so it is valid by construction. Inputs and outputs come from
the ONNX graph itself (names, element types, shapes; a dynamic dimension is ``-1``), checked against
the model's restyle metadata: a uint8 NHWC model takes ``image: TYPE_UINT8 [-1, -1, 3]`` per
request item, batched up to ``max_batch_size`` by the dynamic batcher.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from restyle._optional import require
from restyle.errors import ConfigError, ModelFormatError, OutputError
from restyle.modelinfo import IO_UINT8_NHWC, ModelInfo, read_model_info
from restyle.shapes import read_shapes

__all__ = ["triton_config", "write_triton_repo"]

log = logging.getLogger("restyle.export.triton")

#: ONNX TensorProto element type → Triton data type.
_TRITON_TYPES = {1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 6: "TYPE_INT32",
                 7: "TYPE_INT64", 10: "TYPE_FP16", 11: "TYPE_FP64", 16: "TYPE_BF16"}
_KINDS = ("KIND_AUTO", "KIND_GPU", "KIND_CPU")


def _dims(value_info: Any) -> list[int]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else -1 for d in shape.dim]


def _tensors(model_path: Path) -> tuple[list[tuple[str, int, list[int]]], ...]:
    """``(inputs, outputs)`` of the ONNX graph as ``(name, element type, dims)``."""
    onnx = require("onnx", purpose="reading the model's inputs and outputs")
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "not readable"
        raise ModelFormatError(f"{model_path} is not a readable ONNX file ({exc}): pass a model "
                               "written by `restyle export`") from exc
    g = model.graph
    init = {t.name for t in g.initializer}
    return tuple([(v.name, v.type.tensor_type.elem_type, _dims(v)) for v in vis
                  if v.name not in init] for vis in (g.input, g.output))


def _tensor_config(mc: Any, message: Any, tensor: tuple[str, int, list[int]], *, batched: bool,
                   fmt: str | None, model_path: Path) -> None:
    name, elem, dims = tensor
    if elem not in _TRITON_TYPES:
        raise ModelFormatError(f"{model_path}: tensor {name!r} has ONNX element type {elem}, which "
                               "restyle does not map to Triton: export with `restyle export`")
    if batched:
        if not dims or dims[0] != -1:
            raise ConfigError(f"{model_path}: tensor {name!r} has a fixed first dimension "
                              f"{dims[:1]}: pass max_batch_size=0 for a model without a batch "
                              "dimension")
        dims = dims[1:]
    message.name, message.dims[:] = name, dims
    message.data_type = mc.DataType.Value(_TRITON_TYPES[elem])
    if fmt is not None and len(dims) == 3:
        message.format = mc.ModelInput.Format.Value(fmt)


def triton_config(
    model_path: str | os.PathLike[str],
    *,
    name: str,
    platform: str = "onnxruntime_onnx",
    max_batch_size: int = 16,
    instance_count: int = 1,
    kind: str = "KIND_GPU",
    max_queue_delay_us: int = 100,
) -> Any:
    """Triton's ``ModelConfig`` message for an exported restyle model.

    Args:
        model_path: The ``.onnx`` file (for an engine: the ONNX it was built from).
        name: Model name in the repository.
        platform: ``onnxruntime_onnx`` or ``tensorrt_plan``.
        max_batch_size: Largest batch the dynamic batcher forms (0: no batch dimension).
        instance_count: Model instances per device (per GPU for ``KIND_GPU``).
        kind: ``KIND_GPU``, ``KIND_CPU`` or ``KIND_AUTO``.
        max_queue_delay_us: How long a request may wait for others to batch with.

    Returns:
        A ``tritonclient.grpc.model_config_pb2.ModelConfig``.

    Raises:
        ConfigError: An argument is out of range.
        ModelFormatError: Not a restyle ONNX model, or its graph disagrees with its metadata.
        DependencyError: ``tritonclient`` or ``onnx`` is missing.

    Example:
        >>> from restyle.export.triton import triton_config
        >>> triton_config("mosaic.onnx", name="mosaic").input[0].dims  # doctest: +SKIP
        [-1, -1, 3]
    """
    mc = require("tritonclient.grpc.model_config_pb2", purpose="Triton model configuration")
    if platform not in ("onnxruntime_onnx", "tensorrt_plan"):
        raise ConfigError(f"platform {platform!r} is not supported: use onnxruntime_onnx or "
                          "tensorrt_plan")
    if kind not in _KINDS:
        raise ConfigError(f"kind {kind!r} is not a Triton instance kind: use {', '.join(_KINDS)}")
    if platform == "tensorrt_plan" and kind == "KIND_CPU":
        raise ConfigError("a TensorRT plan runs on a GPU only: use kind KIND_GPU")
    if max_batch_size < 0 or instance_count < 1 or max_queue_delay_us < 0:
        raise ConfigError(f"max_batch_size={max_batch_size} (≥ 0), instance_count="
                          f"{instance_count} (≥ 1) and max_queue_delay_us={max_queue_delay_us} "
                          "(≥ 0) are out of range")
    path = Path(model_path)
    info: ModelInfo = read_model_info(path)
    inputs, outputs = _tensors(path)
    if [t[0] for t in inputs] != [info.input_name] or [t[0] for t in outputs] != [
            info.output_name]:
        raise ModelFormatError(
            f"{path}: graph inputs {[t[0] for t in inputs]} / outputs {[t[0] for t in outputs]} "
            f"do not match its metadata ({info.input_name} → {info.output_name}): re-export it")
    fmt = "FORMAT_NHWC" if info.io == IO_UINT8_NHWC else "FORMAT_NCHW"
    config = mc.ModelConfig(name=name, platform=platform, max_batch_size=max_batch_size)
    _tensor_config(mc, config.input.add(), inputs[0], batched=max_batch_size > 0, fmt=fmt,
                   model_path=path)
    _tensor_config(mc, config.output.add(), outputs[0], batched=max_batch_size > 0, fmt=None,
                   model_path=path)
    if max_batch_size > 0:
        config.dynamic_batching.max_queue_delay_microseconds = max_queue_delay_us
    config.instance_group.add(count=instance_count, kind=mc.ModelInstanceGroup.Kind.Value(kind))
    return config


def _default_name(info: ModelInfo, path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", info.style or path.stem).strip("._") or "restyle"


def write_triton_repo(
    model_path: str | os.PathLike[str],
    repo_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    version: int = 1,
    max_batch_size: int = 16,
    instance_count: int = 1,
    kind: str = "KIND_GPU",
    max_queue_delay_us: int = 100,
    engine_path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write (or add a version to) a Triton model repository entry for a restyle model.

    Args:
        model_path: The exported ``.onnx`` file.
        repo_dir: The model repository (created if missing; other models in it are left alone).
        name: Model name (default: the style name).
        version: Version folder to write.
        max_batch_size: Largest batch the dynamic batcher forms; for an engine, at most the
            batch of its optimisation profile's largest shape.
        instance_count: Model instances per device.
        kind: ``KIND_GPU``, ``KIND_CPU`` or ``KIND_AUTO``.
        max_queue_delay_us: How long a request may wait for others to batch with.
        engine_path: A TensorRT engine built from ``model_path``: written as ``model.plan`` with
            platform ``tensorrt_plan`` (it must match the server's TensorRT and GPU).
        overwrite: Replace an existing version folder.

    Returns:
        The model's folder (``repo_dir/name``).

    Raises:
        ConfigError: Bad argument, or the version exists and ``overwrite`` is False.
        ModelFormatError: Not a restyle ONNX model, or the engine is missing.
        OutputError: The repository cannot be written.
        DependencyError: ``tritonclient`` (``pip install 'restyle[triton]'``) or onnx is missing.

    Example:
        >>> from restyle.export.triton import write_triton_repo
        >>> write_triton_repo("mosaic.onnx", "models/")  # doctest: +SKIP
        PosixPath('models/mosaic')
    """
    require("tritonclient.grpc.model_config_pb2", purpose="Triton model configuration")
    text_format = require("google.protobuf.text_format")  # protobuf comes with tritonclient
    src = Path(model_path)
    info = read_model_info(src)
    shapes = read_shapes(src)
    if shapes is not None:  # painting is not part of the graph: Triton serves the colours
        log.warning(
            "%s carries %d style shapes (trained with --shapes), which Triton does not paint: "
            "paint its outputs on the client with "
            "restyle.shapes.ShapePainter(restyle.shapes.read_shapes(%r)).paint(frame)",
            src, shapes.count, str(src))
    model_name = name if name is not None else _default_name(info, src)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", model_name):
        raise ConfigError(f"model name {model_name!r} is not a plain folder name: use letters, "
                          "digits, '_', '.' and '-'")
    if version < 1:
        raise ConfigError(f"version={version} must be at least 1")
    payload, filename, platform = src, "model.onnx", "onnxruntime_onnx"
    if engine_path is not None:
        payload, filename, platform = Path(engine_path), "model.plan", "tensorrt_plan"
        if not payload.is_file():
            raise ModelFormatError(f"engine {payload} does not exist: build it with "
                                   "`restyle export --trt`")
    config = triton_config(src, name=model_name, platform=platform,
                           max_batch_size=max_batch_size, instance_count=instance_count,
                           kind=kind, max_queue_delay_us=max_queue_delay_us)
    repo = Path(repo_dir)
    model_dir, version_dir = repo / model_name, repo / model_name / str(version)
    if version_dir.exists() and not overwrite:
        raise ConfigError(f"{version_dir} exists: pass overwrite=True (restyle export "
                          "--triton-overwrite) to replace it, or write another version")
    old_config = model_dir / "config.pbtxt"
    if old_config.is_file() and not overwrite:
        try:
            served = text_format.Parse(old_config.read_text(), type(config)()).platform
        except text_format.ParseError as exc:
            raise ConfigError(f"{old_config} is not a valid Triton config ({exc}): fix or delete "
                              "it, or pass overwrite=True") from exc
        if served != platform:
            raise ConfigError(f"{model_dir} is served with platform {served}, this version is "
                              f"{platform}: choose another name, or pass overwrite=True")
    try:
        repo.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{model_name}.", dir=repo))
        try:
            (staging / str(version)).mkdir()
            shutil.copyfile(payload, staging / str(version) / filename)
            (staging / "config.pbtxt").write_text(text_format.MessageToString(config))
            _install(staging, model_dir, version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise OutputError(f"cannot write the Triton repository {repo}: {exc}; choose a "
                          "writable folder") from exc
    log.info("wrote Triton model %s (%s, version %d, max batch %d)", model_dir, platform,
             version, max_batch_size)
    return model_dir


def _install(staging: Path, model_dir: Path, version: int) -> None:
    """Move a staged model folder into place with renames (each one atomic)."""
    if not model_dir.exists():
        os.replace(staging, model_dir)
        return
    version_dir = model_dir / str(version)
    old = None
    if version_dir.exists():
        old = model_dir / f".{version}.replaced-{os.getpid()}"
        os.replace(version_dir, old)
    os.replace(staging / str(version), version_dir)
    os.replace(staging / "config.pbtxt", model_dir / "config.pbtxt")
    if old is not None:
        shutil.rmtree(old)
