"""``restyle.export.inspect``: what an exported model says about itself."""

from __future__ import annotations

import os

from restyle.modelinfo import ModelInfo, read_model_info

__all__ = ["inspect"]


def inspect(path: str | os.PathLike[str]) -> ModelInfo:
    """Read the restyle metadata of an ONNX file (or a bundled style name).

    Args:
        path: An ONNX file written by :func:`restyle.export.to_onnx` or ``restyle export``.

    Returns:
        The model's description: style, architecture and its config, training size, checkpoint
        hash, restyle version, attribution, licence, I/O layout and precision.

    Raises:
        ModelFormatError: The file is missing, is not ONNX, or is not a restyle model.

    Example:
        >>> from restyle.export import inspect
        >>> inspect("mosaic.onnx").style  # doctest: +SKIP
        'mosaic'
    """
    return read_model_info(path)
