"""Importing generators trained elsewhere: fast_neural_style, the ONNX model zoo, AnimeGAN,
CycleGAN/pix2pix.

Each format is one module registered with
:func:`~restyle.export.importers.registry.register_importer`; :func:`import_model` recognises a
file's format from its content and writes a checked restyle model.
PyTorch files need ``restyle[train]``; ONNX files need only onnx (no torch).

Example:
    >>> from restyle.export.importers import import_model
    >>> import_model("mosaic-9.onnx", "mosaic.onnx").detection.format  # doctest: +SKIP
    'onnx_fast_neural_style'
"""

from __future__ import annotations

from restyle.export.importers.api import ImportResult, detect, import_model
from restyle.export.importers.registry import Detection, list_importers, register_importer

__all__ = ["Detection", "ImportResult", "detect", "import_model", "list_importers",
           "register_importer"]
