"""Bundled styles: ONNX files shipped inside the package, addressable by name."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from restyle.errors import ModelFormatError

__all__ = ["RENAMED", "BundledStyle", "list_styles", "resolve_model", "styles_dir"]

log = logging.getLogger("restyle.styles")

#: Old names of bundled styles, still accepted where no style has taken the name back. (Until
#: session 11 ``mosaic`` was the vivid false-colour palette now called ``psychedelic``; since
#: then ``mosaic`` draws mosaic cells.)
RENAMED: dict[str, str] = {}


def styles_dir() -> Path:
    """The folder holding the bundled ``NAME.onnx`` files."""
    return Path(__file__).resolve().parent


@dataclass(frozen=True)
class BundledStyle:
    """One bundled style."""

    name: str
    path: Path
    description: str


def list_styles() -> list[BundledStyle]:
    """The bundled styles, sorted by name."""
    from restyle.modelinfo import ModelInfo, read_metadata_props

    styles = []
    for path in sorted(styles_dir().glob("*.onnx")):
        info = ModelInfo.from_props(str(path), read_metadata_props(path))
        styles.append(BundledStyle(path.stem, path, info.description))
    return styles


def resolve_model(model: str | os.PathLike[str]) -> Path:
    """Turn a path or a bundled style name into an existing file path.

    Raises:
        ModelFormatError: Neither a file nor a bundled style name.
    """
    path = Path(model)
    if path.exists():
        return path
    name = str(model)
    if os.sep not in name and "." not in name:
        if name in RENAMED and not (styles_dir() / f"{name}.onnx").exists():
            log.info("the bundled style %r is now called %r", name, RENAMED[name])
            name = RENAMED[name]
        candidate = styles_dir() / f"{name}.onnx"
        if candidate.exists():
            return candidate
        from restyle.imported import pulled_model

        pulled = pulled_model(name)
        if pulled is not None:
            return pulled
        known = ", ".join(s.stem for s in sorted(styles_dir().glob("*.onnx"))) or "none"
        raise ModelFormatError(
            f"no model file {name!r} and no bundled style of that name (bundled: {known}); "
            "pass a path to a .onnx or .engine file, or fetch a published one with `restyle pull "
            "--list`"
        )
    raise ModelFormatError(f"model file {path} does not exist")
