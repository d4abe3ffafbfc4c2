"""Models trained elsewhere, run directly: imported once, cached by content hash.

``Stylizer("candy.pth")``, ``restyle stylize udnie-9.onnx …`` and ``restyle video … --model
paprika.pt`` pass through :func:`runnable_model`: a restyle model or an engine is used as it is;
any other file is imported with :func:`restyle.export.importers.import_model` (checked against
its source) the first time and kept in the user cache under the sha256 of its bytes, so a renamed
copy hits the same entry and an edited file is imported afresh. Models fetched by
``restyle pull NAME`` live in the same cache and are found by name.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from restyle.modelinfo import PREFIX, read_metadata_props
from restyle.paths import cache_dir

__all__ = ["IMPORT_CACHE_VERSION", "cached_import", "imported_cache_dir", "pulled_model",
           "pulled_models_dir", "runnable_model", "sha256_file"]

log = logging.getLogger("restyle.imported")

#: Bumped when the importers change what they write, so older cached imports are redone.
IMPORT_CACHE_VERSION = 1

_ENGINE_SUFFIXES = frozenset({".engine", ".plan", ".trt"})


def imported_cache_dir() -> Path:
    """Where imported models are cached (``$RESTYLE_CACHE_DIR/imported/v1``)."""
    return cache_dir() / "imported" / f"v{IMPORT_CACHE_VERSION}"


def pulled_models_dir() -> Path:
    """Where ``restyle pull`` keeps the catalogue's models, as ``NAME.onnx``."""
    return cache_dir() / "models"


def pulled_model(name: str) -> Path | None:
    """The pulled model called ``name``, if ``restyle pull`` has fetched it."""
    candidate = pulled_models_dir() / f"{name}.onnx"
    return candidate if candidate.is_file() else None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_restyle_onnx(path: Path) -> bool:
    if path.suffix.lower() != ".onnx":
        return False
    return PREFIX + "format_version" in read_metadata_props(path)


def cached_import(path: str | os.PathLike[str]) -> Path:
    """The restyle model imported from ``path``, importing it on the first call.

    Raises:
        ModelFormatError: Not a format restyle imports, or an unsafe file.
        DependencyError: onnx (and torch for PyTorch files: ``restyle[train]``) is missing.
        ExportError: The import does not match its source.
    """
    source = Path(path)
    target = imported_cache_dir() / f"{sha256_file(source)}.onnx"
    if target.is_file():
        log.debug("%s: using the cached import %s", source, target)
        return target
    from restyle.export.importers import import_model

    log.info("%s is not a restyle model: importing it once (cached as %s)", source, target)
    result = import_model(source, target)
    log.info("imported %s: %s", source.name, result.detection.summary)
    return target


def runnable_model(path: Path) -> Path:
    """``path`` itself for a restyle ONNX model or an engine, else its cached import."""
    if path.suffix.lower() in _ENGINE_SUFFIXES or _is_restyle_onnx(path):
        return path
    return cached_import(path)
