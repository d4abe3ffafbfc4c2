"""Reading foreign model files without running anything inside them.

PyTorch files are read with ``torch.load(weights_only=True)``: tensors and plain containers only,
so a pickle that holds other Python objects is refused before any of its code can run. ONNX files
are read without their external data first; every external tensor must name a file inside the
model's own folder (no absolute path, no ``..``, no link leading out) before any of it is read.
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

from restyle._optional import require
from restyle.errors import ModelFormatError

__all__ = ["check_external_data", "load_onnx", "load_state_dict", "sniff"]

log = logging.getLogger("restyle.export")

#: Containers a training script commonly wraps the generator's weights in.
_WRAPPERS = ("state_dict", "model", "generator", "netG", "G", "params")


def sniff(path: Path) -> str:
    """``"torch"`` (a zip or pickle file), ``"safetensors"`` or ``"onnx"``, from the first bytes.

    Raises:
        ModelFormatError: The file is missing or none of those.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except FileNotFoundError as exc:
        raise ModelFormatError(f"model file {path} does not exist") from exc
    except OSError as exc:
        raise ModelFormatError(f"cannot read {path}: {exc}") from exc
    if head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05"):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 30):
        return "safetensors"
    from restyle.modelinfo import read_metadata_props

    try:
        read_metadata_props(path)
    except ModelFormatError as exc:
        raise ModelFormatError(
            f"{path} is neither a PyTorch file (.pth/.pt), a safetensors file nor an ONNX model: "
            "pass a generator's weights or an ONNX file (see README, 'Bring your own model')"
        ) from exc
    return "onnx"


def _unwrap(obj: Any, path: Path) -> dict[str, Any]:
    for _ in range(3):
        if isinstance(obj, dict) and not any(hasattr(v, "shape") for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict) or not obj:
        raise ModelFormatError(f"{path} holds a {type(obj).__name__}, not a state dict of "
                               "tensors: save the generator's weights with "
                               "torch.save(model.state_dict(), PATH)")
    tensors = {str(k).removeprefix("module."): v for k, v in obj.items() if hasattr(v, "shape")}
    if not tensors:
        raise ModelFormatError(f"{path} holds no tensors")
    return tensors


def load_state_dict(path: Path) -> dict[str, Any]:
    """The tensors of a PyTorch or safetensors file, by key (``module.`` prefixes removed).

    Raises:
        DependencyError: torch is not installed (``restyle[train]``).
        ModelFormatError: The file holds Python objects other than tensors and containers (it
            is refused and nothing in it runs), or is corrupt.
    """
    torch = require("torch", purpose="converting PyTorch weight files (.pth/.pt/.model)")
    if sniff(path) == "safetensors":
        st = require("safetensors.torch", purpose="reading .safetensors weights")
        try:
            return dict(st.load_file(str(path), device="cpu"))
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise ModelFormatError(f"{path} is not a readable safetensors file ({exc})") from exc
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFormatError(
            f"{path} holds Python objects besides tensors, so restyle refused to load it "
            f"(torch.load(weights_only=True): {first}); nothing in the file was run. If you "
            "trust the file, load it yourself and save only the weights: "
            "torch.save(model.state_dict(), 'weights.pth')"
        ) from exc
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise ModelFormatError(f"{path} is not a readable PyTorch file ({exc})") from exc
    return _unwrap(obj, path)


def _tensors(graph: Any) -> list[Any]:
    found = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                found.append(attr.t)
            found.extend(attr.tensors)
            if attr.HasField("g"):
                found.extend(_tensors(attr.g))
            for sub in attr.graphs:
                found.extend(_tensors(sub))
    return found


def check_external_data(model: Any, folder: Path) -> list[Path]:
    """The files ``model``'s external tensors live in, each checked to lie inside ``folder``.

    Raises:
        ModelFormatError: A location is absolute, leaves the folder (``..`` or a link), or is
            missing.
    """
    onnx = require("onnx")
    root = folder.resolve()
    files: list[Path] = []
    for tensor in _tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        target = (root / location).resolve()
        if not location or os.path.isabs(location) or root not in target.parents:
            raise ModelFormatError(
                f"tensor {tensor.name!r} keeps its data in {location!r}, outside the model's "
                f"folder {root}: restyle reads external data only from files beside the model. "
                "Move the data file next to the .onnx file (or save the model with its data "
                "inside: onnx.save(model, PATH, save_as_external_data=False))"
            )
        if not target.is_file():
            raise ModelFormatError(f"tensor {tensor.name!r} keeps its data in {location}, which "
                                   f"is missing from {root}: copy it beside the model")
        files.append(target)
    return files


def load_onnx(path: Path) -> Any:
    """An ONNX model with its external data (checked by :func:`check_external_data`) loaded.

    Raises:
        DependencyError: onnx is not installed.
        ModelFormatError: Not an ONNX model, or external data outside its folder.
    """
    onnx = require("onnx", purpose="importing ONNX models")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        raise ModelFormatError(f"{path} is not a readable ONNX model ({exc})") from exc
    if check_external_data(model, path.parent):
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(path.parent))
    return model
