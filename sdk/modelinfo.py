"""The restyle model format: metadata keys inside ONNX files, and reading them back.

An exported model is self-describing: its ``metadata_props`` carry the keys in :data:`KEYS`.
Reading them needs no ONNX package: the few protobuf fields involved are decoded here directly,
so ``restyle info MODEL`` and bundled-style listing stay cheap and torch-free.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from restyle.errors import ModelFormatError

__all__ = [
    "FORMAT_VERSION",
    "IO_FLOAT32_NCHW",
    "IO_UINT8_NHWC",
    "KEYS",
    "ModelInfo",
    "read_metadata_props",
    "read_model_info",
]

FORMAT_VERSION = 1
IO_UINT8_NHWC = "uint8_nhwc"
IO_FLOAT32_NCHW = "float32_nchw"
PREFIX = "restyle."

#: Metadata key (without the ``restyle.`` prefix) → meaning. Export writes all of them.
KEYS: dict[str, str] = {
    "format_version": "version of this metadata layout (an integer)",
    "style": "style name",
    "description": "one line describing the style",
    "arch": "generator architecture name (restyle.training.models)",
    "arch_config": "JSON of the architecture's constructor arguments",
    "train_size": "training crop size in pixels",
    "checkpoint_sha256": "sha256 of the checkpoint the model was exported from",
    "restyle_version": "restyle version that exported the file",
    "attribution": "where the style image(s) came from",
    "license": "licence of the model and its style images",
    "io": "tensor layout: uint8_nhwc (image/stylized) or float32_nchw",
    "precision": "fp32, fp16 or int8 (a QDQ model from restyle quantize)",
    "input_name": "name of the input tensor",
    "output_name": "name of the output tensor",
    "graph_rewrites": "exact rewrites applied at export, comma-separated (e.g. fold_upsampling)",
    "source_format": "for an imported model: the format it was imported from (restyle import)",
    "quantization": "JSON of an int8 model's recipe, calibration set, source sha256 and measured "
                    "PSNR against fp32 on held-out photos (empty for float models)",
}


@dataclass(frozen=True)
class ModelInfo:
    """What a restyle ONNX file says about itself."""

    path: str
    style: str
    arch: str
    io: str = IO_UINT8_NHWC
    precision: str = "fp32"
    format_version: int = FORMAT_VERSION
    description: str = ""
    arch_config: dict[str, Any] = field(default_factory=dict)
    train_size: int | None = None
    checkpoint_sha256: str = ""
    restyle_version: str = ""
    attribution: str = ""
    license: str = ""
    input_name: str = "image"
    output_name: str = "stylized"
    graph_rewrites: str = ""
    source_format: str = ""
    quantization: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-friendly values."""
        return asdict(self)

    @classmethod
    def from_props(cls, path: str, props: dict[str, str]) -> ModelInfo:
        """Build from ``metadata_props``; :class:`ModelFormatError` if not a restyle model."""
        ours = {k[len(PREFIX):]: v for k, v in props.items() if k.startswith(PREFIX)}
        if "format_version" not in ours:
            raise ModelFormatError(
                f"{path} is an ONNX file but not a restyle model (no 'restyle.format_version' "
                "metadata): export models with `restyle export` or restyle.export.to_onnx"
            )
        try:
            version = int(ours["format_version"])
            config = json.loads(ours.get("arch_config") or "{}")
            quantization = json.loads(ours.get("quantization") or "{}")
            train_size = int(ours["train_size"]) if ours.get("train_size") else None
        except (ValueError, json.JSONDecodeError) as exc:
            raise ModelFormatError(f"{path}: malformed restyle metadata ({exc})") from exc
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"{path} uses restyle model format {version}, this restyle reads up to "
                f"{FORMAT_VERSION}: upgrade restyle (pip install -U restyle)"
            )
        return cls(
            path=path,
            style=ours.get("style", ""),
            arch=ours.get("arch", ""),
            io=ours.get("io", IO_UINT8_NHWC),
            precision=ours.get("precision", "fp32"),
            format_version=version,
            description=ours.get("description", ""),
            arch_config=config if isinstance(config, dict) else {},
            train_size=train_size,
            checkpoint_sha256=ours.get("checkpoint_sha256", ""),
            restyle_version=ours.get("restyle_version", ""),
            attribution=ours.get("attribution", ""),
            license=ours.get("license", ""),
            input_name=ours.get("input_name", "image"),
            output_name=ours.get("output_name", "stylized"),
            graph_rewrites=ours.get("graph_rewrites", ""),
            source_format=ours.get("source_format", ""),
            quantization=quantization if isinstance(quantization, dict) else {},
        )


# --- a minimal protobuf reader: ModelProto.metadata_props is field 14 ----------------------------

_MODEL_METADATA_PROPS = 14


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, bytes | int]]:
    out: list[tuple[int, int, bytes | int]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, wire, value))
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated field")
            out.append((number, wire, buf[pos:pos + length]))
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if pos != len(buf):
        raise ValueError("trailing bytes")
    return out


def read_metadata_props(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read an ONNX file's ``metadata_props`` without the onnx package.

    Raises:
        ModelFormatError: The file is missing or is not an ONNX model.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise ModelFormatError(f"model file {p} does not exist") from exc
    except OSError as exc:
        raise ModelFormatError(f"cannot read model file {p}: {exc}") from exc
    try:
        fields = _fields(data)
        # A ModelProto has ir_version (1, varint) and a graph (7, bytes).
        numbers = {n for n, _, _ in fields}
        if 1 not in numbers or 7 not in numbers:
            raise ValueError("no ir_version or graph")
        props: dict[str, str] = {}
        for number, wire, value in fields:
            if number == _MODEL_METADATA_PROPS and wire == 2 and isinstance(value, bytes):
                entry = {n: v for n, _, v in _fields(value)}
                k, v = entry.get(1, b""), entry.get(2, b"")
                if isinstance(k, bytes) and isinstance(v, bytes):
                    props[k.decode("utf-8")] = v.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(
            f"{p} is not an ONNX model ({exc}): pass a .onnx file exported by restyle, a .engine "
            "file, or a bundled style name (`restyle styles`)"
        ) from exc
    return props


def read_model_info(model: str | os.PathLike[str]) -> ModelInfo:
    """Read a model's metadata from an ONNX path or a bundled style name.

    Raises:
        ModelFormatError: Not found, not ONNX, or not a restyle model.
    """
    from restyle.styles import resolve_model

    path = resolve_model(model)
    return ModelInfo.from_props(str(path), read_metadata_props(path))
