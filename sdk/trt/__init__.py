"""TensorRT engines as deployment work: build, cache, check and load them (``restyle[gpu]``).

- :mod:`.build`: :func:`build_engine` / :func:`cached_engine` from a restyle ONNX file (TensorRT
  10 and 11; ``onnx`` only to convert FP32 to FP16).
- :mod:`.record`: what an engine was built from and for (its JSON sidecar, with its sha256), the
  cache key and the private cache folder.
- :mod:`.target`: this machine's TensorRT and GPU, how the build differs between 10.x and 11.x,
  and the one "is TensorRT usable" check.
- :mod:`.timing`: the shared timing cache, locked and merged.
- :mod:`.loader`: a ready engine from a file (Polygraphy's ``EngineFromPath``), refusing engines
  restyle did not build or the user did not name.
- :mod:`.mixed_fp16`: the FP32 → mixed FP16 ONNX converter.

Nothing here imports TensorRT, torch or onnx at import time; ``restyle.export`` and the TensorRT
backend both use this package, never the other way round.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from restyle.trt.build import build_engine, cached_engine
    from restyle.trt.loader import LoadedEngine, load_engine
    from restyle.trt.record import BuildProfile, BuildTarget, EngineRecord
    from restyle.trt.target import tensorrt_problem

__all__ = [
    "BuildProfile",
    "BuildTarget",
    "EngineRecord",
    "LoadedEngine",
    "build_engine",
    "cached_engine",
    "load_engine",
    "tensorrt_problem",
]

_WHERE = {
    "build_engine": "restyle.trt.build",
    "cached_engine": "restyle.trt.build",
    "LoadedEngine": "restyle.trt.loader",
    "load_engine": "restyle.trt.loader",
    "BuildProfile": "restyle.trt.record",
    "BuildTarget": "restyle.trt.record",
    "EngineRecord": "restyle.trt.record",
    "tensorrt_problem": "restyle.trt.target",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'restyle.trt' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
