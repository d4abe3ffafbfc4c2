"""restyle: learn an image style and apply it fast.

Applications import this package; it never imports torch. Model makers use
:mod:`restyle.training` (train generators) and :mod:`restyle.export` (ONNX / TensorRT).
"""

from __future__ import annotations

from restyle._version import __version__
from restyle.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    CudaError,
    DependencyError,
    EngineMismatchError,
    ExportError,
    InvalidImageError,
    InvalidVideoError,
    ModelFormatError,
    OutOfMemoryError,
    OutputError,
    QualityGateError,
    RestyleError,
    TrainingError,
)
from restyle.modelinfo import ModelInfo, read_model_info
from restyle.styles import list_styles
from restyle.stylizer import Stylizer

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "ConfigError",
    "CudaError",
    "DependencyError",
    "EngineMismatchError",
    "ExportError",
    "InvalidImageError",
    "InvalidVideoError",
    "ModelFormatError",
    "ModelInfo",
    "OutOfMemoryError",
    "OutputError",
    "QualityGateError",
    "RestyleError",
    "Stylizer",
    "TrainingError",
    "__version__",
    "list_styles",
    "read_model_info",
]
