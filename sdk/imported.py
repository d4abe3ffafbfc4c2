"""Models trained elsewhere, run directly: imported once, cached by content hash.

``Stylizer("candy.pth")``, ``restyle stylize udnie-9.onnx …`` and ``restyle video … --model
paprika.pt`` pass through :func:`runnable_model`: a restyle model or an engine is used as it is;
any other file is imported (checked against its source) the first time and kept in the user cache
under the sha256 of its bytes, so a renamed copy hits the same entry and an edited file is imported
afresh. Models fetched by ``restyle pull NAME`` live in the same cache and are found by name.

The runtime does not convert models itself: converting is the export layer's job, and the runtime
never imports it (``make layers``). The converter is found through the ``restyle.importers``
entry-point group, which restyle's own export layer fills (``restyle.export.importers``, see
pyproject.toml) and which another package may fill as well: a plugin point, not a hidden import.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from restyle.errors import DependencyError
from restyle.modelinfo import PREFIX, read_metadata_props
from restyle.paths import cache_dir, file_sha256

__all__ = ["IMPORTER_GROUP", "IMPORT_CACHE_VERSION", "ModelImporter", "cached_import",
           "imported_cache_dir", "pulled_model", "pulled_models_dir", "runnable_model"]

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


#: The entry-point group a model converter registers under (``restyle`` is restyle's own).
IMPORTER_GROUP = "restyle.importers"


class ModelImporter(Protocol):
    """Converts a foreign model file into a checked restyle ONNX model written to ``target``."""

    def __call__(self, source: Path, target: Path) -> object: ...


def _importer() -> ModelImporter:
    """The converter registered under :data:`IMPORTER_GROUP` (restyle's own first)."""
    found = {ep.name: ep for ep in entry_points(group=IMPORTER_GROUP)}
    ep = found.get("restyle") or next(iter(found.values()), None)
    if ep is None:
        raise DependencyError("no model importer is installed (entry-point group "
                              f"{IMPORTER_GROUP!r}): reinstall restyle, e.g. "
                              "`pip install --force-reinstall 'restyle[cpu]'`")
    importer: ModelImporter = ep.load()
    return importer


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
    target = imported_cache_dir() / f"{file_sha256(source)}.onnx"
    if target.is_file():
        log.debug("%s: using the cached import %s", source, target)
        return target
    log.info("%s is not a restyle model: importing it once (cached as %s)", source, target)
    result = _importer()(source, target)
    log.info("imported %s: %s", source.name, result)
    return target


def runnable_model(path: Path) -> Path:
    """``path`` itself for a restyle ONNX model or an engine, else its cached import."""
    if path.suffix.lower() in _ENGINE_SUFFIXES or _is_restyle_onnx(path):
        return path
    return cached_import(path)
