"""Export: checkpoints to self-describing ONNX, FP16 ONNX and TensorRT engines.

Model makers use this package (it needs ``restyle[train]``; TensorRT engines need TensorRT).
Importing it is cheap: torch, onnx and TensorRT load when a function that needs them is used.

Example:
    >>> from restyle.export import inspect, to_onnx
    >>> result = to_onnx("runs/mosaic", "mosaic.onnx")  # doctest: +SKIP
    >>> inspect("mosaic.onnx").style  # doctest: +SKIP
    'mosaic'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from restyle.export.inspection import inspect

if TYPE_CHECKING:
    from restyle.export.chain import ExportResult, to_onnx
    from restyle.export.fp16 import to_fp16
    from restyle.export.int8 import QuantizeReport, quantize
    from restyle.trt.build import build_engine, cached_engine

__all__ = [
    "ExportResult", "QuantizeReport", "build_engine", "cached_engine", "inspect", "quantize",
    "to_fp16", "to_onnx",
]

_LAZY = {
    "ExportResult": "restyle.export.chain",
    "to_onnx": "restyle.export.chain",
    "to_fp16": "restyle.export.fp16",
    "quantize": "restyle.export.int8",
    "QuantizeReport": "restyle.export.int8",
    "build_engine": "restyle.trt.build",
    "cached_engine": "restyle.trt.build",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'restyle.export' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
