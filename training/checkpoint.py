"""Checkpoints: safetensors weights that describe themselves, a JSON sidecar, and training state.

A checkpoint ``NAME.safetensors`` holds the generator's weights; its safetensors metadata carries
the architecture, its arguments and the style's description, so the one file is enough to rebuild
the generator (:func:`load_generator`). Beside it, ``NAME.json`` repeats that description and adds
the training configuration and step, and ``NAME.state.safetensors`` (present when training can
resume from it) holds the optimiser, discriminator and random-generator states. Every file is
written atomically, the JSON sidecar last, so a checkpoint whose sidecar exists is complete.

A run folder (``restyle train --out RUN_DIR``) holds ``generator.safetensors`` when training
finished and ``checkpoints/step_NNNNNN.safetensors`` along the way.

Why one module a little over 300 lines: writing and reading a checkpoint are kept together, so
the file format has one definition.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restyle._optional import require
from restyle.errors import ModelFormatError
from restyle.paths import atomic_output, file_sha256
from restyle.shapes import SHAPES_KEY
from restyle.training.models import Generator, list_models, model_class

__all__ = [
    "FINAL_NAME",
    "FORMAT_VERSION",
    "LoadedGenerator",
    "TrainingState",
    "checkpoint_paths",
    "find_checkpoint",
    "load_generator",
    "load_training_state",
    "save_checkpoint",
]

log = logging.getLogger("restyle.training.checkpoint")

FORMAT_VERSION = 1
FINAL_NAME = "generator.safetensors"
CHECKPOINT_DIR = "checkpoints"
_STEP_RE = re.compile(r"^step_(\d+)\.safetensors$")
_PREFIX = "restyle."


@dataclass(frozen=True)
class LoadedGenerator:
    """A generator read back from a checkpoint, in eval mode, with what its file says about it."""

    module: nn.Module
    arch: str
    arch_config: dict[str, Any]
    style: str
    description: str
    train_size: int
    sha256: str
    attribution: str
    license: str
    step: int
    path: Path
    #: The style's shape map as :meth:`restyle.shapes.ShapeMap.to_text` (``""``: none).
    shapes: str = ""


@dataclass(frozen=True)
class TrainingState:
    """What resuming needs beyond the generator: tensors (optimiser moments, discriminator
    weights, torch RNG state) and JSON-serialisable values (step, optimiser hyper-parameters,
    numpy and Python RNG states)."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def checkpoint_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """The weights, JSON sidecar and training-state paths of the checkpoint ``path``."""
    weights = Path(path)
    name = weights.name
    stem = name[: -len(".safetensors")] if name.endswith(".safetensors") else name
    state = weights.with_name(stem + ".state.safetensors")
    return weights, weights.with_name(stem + ".json"), state


def save_checkpoint(
    path: str | Path,
    *,
    generator: Generator,
    style: str,
    train_size: int,
    step: int,
    description: str = "",
    attribution: str = "",
    license: str = "",
    config: Mapping[str, Any] | None = None,
    state: TrainingState | None = None,
    shapes: str = "",
) -> Path:
    """Write ``generator``'s weights (and optionally the training state) as a checkpoint.

    Args:
        path: The ``.safetensors`` file to write; the sidecars go beside it.
        generator: A registered generator (``arch`` and ``config()`` are recorded).
        style: The style's name.
        train_size: Training crop size in pixels.
        step: Optimisation steps done.
        description: One line describing the style.
        attribution: Where the style image(s) came from.
        license: Licence of the model and its style images.
        config: The training configuration as JSON-serialisable values.
        state: Optimiser, discriminator and RNG state for resuming; ``None`` for a final model.
        shapes: The style's shape map (:meth:`restyle.shapes.ShapeMap.to_text`), kept in the
            weights file's metadata; ``""``: none.

    Returns:
        The weights path.

    Raises:
        OutputError: A file cannot be written.

    Example:
        >>> import tempfile
        >>> from restyle.training.models import create_model
        >>> folder = Path(tempfile.mkdtemp())
        >>> net = create_model("compact", width=4, blocks=1)
        >>> p = save_checkpoint(folder / "g.safetensors", generator=net, style="demo",
        ...                     train_size=64, step=0)
        >>> load_generator(p).arch
        'compact'
    """
    st = require("safetensors.torch")
    weights, sidecar, state_path = checkpoint_paths(path)
    described = {
        "format_version": FORMAT_VERSION,
        "arch": generator.arch,
        "arch_config": generator.config(),
        "style": style,
        "description": description,
        "train_size": int(train_size),
        "attribution": attribution,
        "license": license,
        "step": int(step),
    }
    metadata = {_PREFIX + k: v if isinstance(v, str) else json.dumps(v)
                for k, v in described.items()}
    if shapes:
        metadata[SHAPES_KEY] = shapes
    tensors = {k: v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
    if state is not None:
        with atomic_output(state_path) as tmp:
            st.save_file({k: v.detach().contiguous().cpu() for k, v in state.tensors.items()},
                         str(tmp))
    with atomic_output(weights) as tmp:
        st.save_file(tensors, str(tmp), metadata=metadata)
    record: dict[str, Any] = dict(described)
    record["shapes"] = bool(shapes)
    record["weights"] = weights.name
    record["weights_sha256"] = file_sha256(weights)
    record["config"] = dict(config) if config is not None else None
    record["state"] = (
        {"file": state_path.name, "info": state.info} if state is not None else None
    )
    with atomic_output(sidecar) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    log.debug("wrote checkpoint %s (step %d)", weights, step)
    return weights


def find_checkpoint(run_dir: str | Path, *, resumable: bool = False) -> Path | None:
    """The newest complete checkpoint of a run folder, or ``None``.

    With ``resumable=False`` the final ``generator.safetensors`` wins when present; otherwise
    (and always with ``resumable=True``) the highest ``checkpoints/step_N.safetensors`` whose
    JSON sidecar (written last) exists, and with ``resumable=True`` whose state file exists too.
    """
    run = Path(run_dir)
    final = run / FINAL_NAME
    if not resumable and final.is_file():
        return final
    found: list[tuple[int, Path]] = []
    folder = run / CHECKPOINT_DIR
    if folder.is_dir():
        for p in folder.iterdir():
            m = _STEP_RE.match(p.name)
            if not m:
                continue
            _, sidecar, state_path = checkpoint_paths(p)
            if sidecar.is_file() and (not resumable or state_path.is_file()):
                found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def _read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    safetensors = require("safetensors")
    try:
        with safetensors.safe_open(str(path), framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # the Rust reader raises SafetensorError, OSError, ...
        raise ModelFormatError(
            f"{path} is not a readable safetensors checkpoint ({exc}); it may be truncated or "
            "corrupt: use another checkpoint of the run or train again"
        ) from exc
    return tensors, metadata


def load_generator(path: str | Path) -> LoadedGenerator:
    """Rebuild the generator stored in a checkpoint file or a run folder.

    Args:
        path: A ``.safetensors`` checkpoint, or a run folder (its ``generator.safetensors``, else
            its newest ``checkpoints/step_N.safetensors``).

    Returns:
        The generator in eval mode with its description.

    Raises:
        ModelFormatError: The path does not exist, holds no checkpoint, is corrupt or truncated,
            is not a restyle checkpoint, or names an unknown architecture.

    Example:
        >>> import tempfile
        >>> from restyle.training.models import create_model
        >>> run = Path(tempfile.mkdtemp())
        >>> _ = save_checkpoint(run / FINAL_NAME, generator=create_model("johnson", width=4,
        ...                     blocks=1), style="demo", train_size=64, step=10)
        >>> loaded = load_generator(run)
        >>> (loaded.arch, loaded.step, loaded.module.training)
        ('johnson', 10, False)
    """
    p = Path(path)
    if not p.exists():
        raise ModelFormatError(
            f"checkpoint {p} does not exist: pass a run folder written by `restyle train --out` "
            "or one of its .safetensors files"
        )
    if p.is_dir():
        found = find_checkpoint(p)
        if found is None:
            raise ModelFormatError(
                f"{p} holds no checkpoint ({FINAL_NAME} or {CHECKPOINT_DIR}/step_N.safetensors): "
                "train one with `restyle train --out RUN_DIR`"
            )
        p = found
    tensors, meta = _read_weights(p)
    ours = {k[len(_PREFIX):]: v for k, v in meta.items() if k.startswith(_PREFIX)}
    if "arch" not in ours:
        raise ModelFormatError(
            f"{p} is a safetensors file but not a restyle checkpoint (no restyle.arch metadata): "
            "pass a checkpoint written by `restyle train`"
        )
    arch = ours["arch"]
    if arch not in list_models():
        raise ModelFormatError(
            f"{p} holds an unknown generator architecture {arch!r}; this restyle knows "
            f"{', '.join(list_models())}: upgrade restyle or retrain with one of them"
        )
    try:
        arch_config = json.loads(ours.get("arch_config", "{}"))
        train_size = int(json.loads(ours.get("train_size", "0")))
        step = int(json.loads(ours.get("step", "0")))
        module = model_class(arch)(**arch_config)
        module.load_state_dict(tensors, strict=True)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelFormatError(
            f"{p} does not match the {arch!r} architecture it names ({exc}): the file is damaged "
            "or was written by an incompatible restyle; retrain or use another checkpoint"
        ) from exc
    module.eval()
    return LoadedGenerator(
        module=module,
        arch=arch,
        arch_config=arch_config,
        style=ours.get("style", p.stem),
        description=ours.get("description", ""),
        train_size=train_size,
        sha256=file_sha256(p),
        attribution=ours.get("attribution", ""),
        license=ours.get("license", ""),
        step=step,
        path=p,
        shapes=ours.get("shapes", ""),
    )


def load_training_state(path: str | Path) -> tuple[dict[str, Any], TrainingState]:
    """Read a checkpoint's JSON sidecar and its training state, for resuming.

    Args:
        path: The checkpoint's ``.safetensors`` weights path.

    Returns:
        The sidecar record and the :class:`TrainingState`.

    Raises:
        ModelFormatError: The sidecar or state file is missing or unreadable.
    """
    weights, sidecar, state_path = checkpoint_paths(path)
    try:
        record: dict[str, Any] = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFormatError(
            f"cannot read the checkpoint sidecar {sidecar} ({exc}): resume from another checkpoint"
        ) from exc
    if not record.get("state"):
        raise ModelFormatError(
            f"{weights} is a final model without training state: it cannot be resumed; "
            "train a new run instead"
        )
    if not state_path.is_file():
        raise ModelFormatError(
            f"training state {state_path} does not exist: resume from another checkpoint"
        )
    tensors, _ = _read_weights(state_path)
    return record, TrainingState(tensors=tensors, info=record["state"]["info"])
