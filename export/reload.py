"""Read a restyle ONNX model back into its PyTorch generator, to re-export it.

A restyle ONNX file names its architecture in its metadata and keeps the generator's weights as
initializers named ``generator.<state-dict key>``, so an older export (or a bundled style) can be
re-exported with a newer restyle — a new opset, FP16, another I/O layout, the exact graph rewrites
of :mod:`restyle.export.rewrite` — without its checkpoint. Folded transposed convolutions are
unfolded back to the 3×3 kernels they came from (:func:`restyle.export.rewrite.unfold_kernel`).
FP16 weights come back as float32 values of the FP16 numbers: re-exporting such a file as FP32
does not bring the lost precision back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from restyle.errors import ModelFormatError
from restyle.export.metadata import shapes_of
from restyle.export.rewrite import unfold_kernel
from restyle.modelinfo import read_model_info
from restyle.paths import file_sha256
from restyle.training.checkpoint import LoadedGenerator
from restyle.training.models import create_model

__all__ = ["load_onnx_generator"]

_PREFIX = "generator."
_LAYERS = ("Conv", "ConvTranspose", "InstanceNormalization")


def _weights_in_order(model: Any, module: nn.Module, path: Path) -> dict[str, np.ndarray]:
    """The file's weight and bias tensors matched to the module's state-dict keys.

    Names alone are not enough: the exporter shares one initializer between parameters with equal
    values (a fresh InstanceNorm's ones), keeping one name. So the Conv / ConvTranspose /
    InstanceNormalization nodes, in graph order (the forward order), are matched to the module's
    convolutions and norms in registration order; where a name survived it must agree.
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}

    def tensor(name: str) -> tuple[str, np.ndarray] | None:
        while name not in inits and name in producers and \
                producers[name].op_type in ("Cast", "Identity"):
            name = producers[name].input[0]  # FP16 files cast some weights
        return (name, numpy_helper.to_array(inits[name])) if name in inits else None

    slots: list[tuple[str, np.ndarray] | None] = []
    for node in model.graph.node:
        if node.op_type in _LAYERS:
            inputs = [*node.input, "", ""]
            slots += [tensor(inputs[1]) if inputs[1] else None,
                      tensor(inputs[2]) if inputs[2] else None]
    keys: list[str | None] = []
    for name, layer in module.named_modules():
        if isinstance(layer, nn.Conv2d | nn.InstanceNorm2d):
            affine = not isinstance(layer, nn.InstanceNorm2d) or layer.affine
            for part in ("weight", "bias"):
                has = affine and getattr(layer, part, None) is not None
                keys.append(f"{name}.{part}" if has else None)
    if len(slots) != len(keys):
        raise ModelFormatError(f"{path} has {len(slots) // 2} convolution/norm layers, its "
                               f"architecture {len(keys) // 2}: export from the checkpoint")
    found: dict[str, np.ndarray] = {}
    for key, slot in zip(keys, slots, strict=True):
        if key is None or slot is None:
            continue
        name, value = slot
        own = name.removeprefix(_PREFIX) if name.startswith(_PREFIX) else None
        if own is not None and own in keys and own != key and _PREFIX + key in inits:
            raise ModelFormatError(f"{path}: layer order does not match the architecture "
                                   f"({name} where {key} was expected)")
        found[key] = value
    return found


def load_onnx_generator(path: str | os.PathLike[str]) -> LoadedGenerator:
    """Rebuild the generator a restyle ONNX file was exported from.

    Raises:
        ModelFormatError: Not a restyle ONNX model, an unknown architecture, or weights that do
            not fit it (e.g. a file edited by another tool).
    """
    import onnx

    p = Path(path)
    info = read_model_info(p)
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelFormatError(f"{p} is not a readable ONNX file ({exc})") from exc
    try:
        module = create_model(info.arch, **info.arch_config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{p}: cannot rebuild architecture {info.arch!r} "
                               f"{info.arch_config} ({exc})") from exc
    expected = module.state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, value in _weights_in_order(model, module, p).items():
        if value.ndim == 4 and value.shape[2:] == (4, 4) and expected[key].shape[2:] == (3, 3):
            value = unfold_kernel(value)
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelFormatError(f"{p}: weights {key!r} have shape {tuple(value.shape)}, "
                                   f"{info.arch} needs {tuple(expected[key].shape)}")
        state[key] = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ModelFormatError(f"{p} has no weights for {', '.join(missing)}: it was not "
                               "exported by restyle from this architecture; export from the "
                               "checkpoint")
    module.load_state_dict(state)
    return LoadedGenerator(
        module=module.eval(), arch=info.arch, arch_config=dict(info.arch_config),
        style=info.style, description=info.description, train_size=info.train_size or 0,
        sha256=info.checkpoint_sha256 or file_sha256(p),
        attribution=info.attribution, license=info.license, step=0, path=p,
        shapes=shapes_of(model),
    )
