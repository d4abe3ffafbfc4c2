"""What an export starts from: a checkpoint file, a run folder, a loaded generator or a module."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restyle._version import __version__
from restyle.errors import ConfigError, ExportError
from restyle.modelinfo import ModelInfo
from restyle.shapes import ShapeMap
from restyle.training.checkpoint import LoadedGenerator, load_generator

__all__ = ["ExportSource", "Source", "load_source"]

#: Anything :func:`restyle.export.to_onnx` exports.
Source = str | os.PathLike[str] | LoadedGenerator | nn.Module


@dataclass(frozen=True)
class ExportSource:
    """A generator ready to export (a private eval-mode float32 CPU copy) and its description."""

    module: nn.Module
    size_multiple: int
    info: ModelInfo
    checkpoint: Path | None = None
    #: The style's shape map (:meth:`restyle.shapes.ShapeMap.to_text`); ``""``: none.
    shapes: str = ""


def _module_config(module: nn.Module) -> dict[str, Any]:
    config = getattr(module, "config", None)
    if callable(config):
        value = config()
        if isinstance(value, dict):
            return value
    return {}


def _check_finite(module: nn.Module, checkpoint: Path | None) -> None:
    """Refuse a generator with NaN or infinite weights: its export would verify (NaN rounds to
    the same black pixel in both runtimes) and then draw black frames.

    Raises:
        ExportError: Naming the first broken tensor.
    """
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            where = f"{checkpoint}" if checkpoint else "the generator"
            raise ExportError(
                f"{where} holds {bad} NaN or infinite value(s) in {name}: training diverged; "
                "export an earlier checkpoint (or resume with a lower --lr)"
            )


def load_source(
    source: Source,
    *,
    style: str | None = None,
    description: str | None = None,
    attribution: str | None = None,
    license: str | None = None,
    train_size: int | None = None,
    size_multiple: int | None = None,
) -> ExportSource:
    """Load ``source`` and describe it; explicit arguments override what the checkpoint says.

    Args:
        source: A ``.safetensors`` checkpoint, a run folder, a restyle ``.onnx`` model (to
            re-export it, see :mod:`restyle.export.reload`), a
            :class:`~restyle.training.checkpoint.LoadedGenerator` or a generator ``nn.Module``
            (float32 NCHW [0, 1] in and out).
        style: Style name (a module without one is called after its architecture).
        description: One line describing the style.
        attribution: Where the style image(s) came from.
        license: Licence of the model and its style images.
        train_size: Training crop size in pixels (for a bare module).
        size_multiple: Height/width multiple the generator needs; default: its
            ``size_multiple`` attribute, else 1.

    Returns:
        The generator (a copy: the caller's module is never changed) and its description.

    Raises:
        ModelFormatError: The checkpoint is missing, corrupt or of an unknown architecture.
        ConfigError: ``source`` is none of the accepted kinds.
        ExportError: The generator's weights hold NaN or infinite values.
    """
    checkpoint: Path | None = None
    shapes = ""
    if isinstance(source, (str, os.PathLike)):
        if Path(source).suffix.lower() == ".onnx":
            from restyle.export.reload import load_onnx_generator

            source = load_onnx_generator(source)
        else:
            source = load_generator(Path(source))
    if isinstance(source, LoadedGenerator):
        loaded = source
        checkpoint = loaded.path
        shapes = loaded.shapes
        if shapes:  # refuse a damaged map here rather than in every Stylizer that opens it
            ShapeMap.from_text(shapes, where=str(checkpoint))
        module = loaded.module
        base = ModelInfo(
            path="",
            style=loaded.style,
            arch=loaded.arch,
            description=loaded.description,
            arch_config=dict(loaded.arch_config),
            train_size=loaded.train_size or None,
            checkpoint_sha256=loaded.sha256,
            attribution=loaded.attribution,
            license=loaded.license,
        )
    elif isinstance(source, nn.Module):
        module = source
        arch = str(getattr(module, "arch", "") or type(module).__name__.lower())
        base = ModelInfo(path="", style=arch, arch=arch, arch_config=_module_config(module))
    else:
        raise ConfigError(
            f"cannot export a {type(source).__name__}: pass a checkpoint path, a run folder, a "
            "LoadedGenerator or a torch.nn.Module"
        )
    multiple = size_multiple if size_multiple is not None else int(
        getattr(module, "size_multiple", 1) or 1
    )
    if multiple < 1:
        raise ConfigError(f"size_multiple must be ≥ 1, got {multiple}")
    info = replace(
        base,
        style=base.style if style is None else style,
        description=base.description if description is None else description,
        attribution=base.attribution if attribution is None else attribution,
        license=base.license if license is None else license,
        train_size=base.train_size if train_size is None else train_size,
        restyle_version=__version__,
    )
    private = copy.deepcopy(module).cpu().float().eval()
    for parameter in private.parameters():
        parameter.requires_grad_(False)
    _check_finite(private, checkpoint)
    return ExportSource(module=private, size_multiple=multiple, info=info, checkpoint=checkpoint,
                        shapes=shapes)
