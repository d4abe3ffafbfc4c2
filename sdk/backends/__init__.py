"""Inference backends behind one Protocol, registered by decorator.

=========  ====  ==================================================================
name       rank  what
=========  ====  ==================================================================
tensorrt   10    TensorRT engine, CUDA streams in flight (:mod:`.tensorrt`)
ort_cuda   20    ONNX Runtime CUDA with IOBinding (:mod:`.ort_cuda`)
openvino   30    OpenVINO CPU (:mod:`.openvino`)
ort_cpu    40    ONNX Runtime CPU, the fallback (:mod:`.ort_cpu`)
=========  ====  ==================================================================

``Stylizer(backend="auto")`` tries them in rank order; each module imports its runtime only when a
backend is created.
"""

from __future__ import annotations

from restyle.backends.base import Backend, BackendConfig, BackendInfo, BaseBackend, ModelSource
from restyle.backends.registry import (
    BackendSpec,
    backend_names,
    get_backend_spec,
    open_backend,
    register_backend,
)

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendInfo",
    "BackendSpec",
    "BaseBackend",
    "ModelSource",
    "backend_names",
    "get_backend_spec",
    "open_backend",
    "register_backend",
]
