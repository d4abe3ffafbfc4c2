"""The one exception tree of restyle.

Every error restyle raises on purpose is a :class:`RestyleError`; where a builtin exception has the
same meaning, the restyle error also subclasses it, so ``except ValueError`` keeps working::

    RestyleError
    ├── ConfigError(ValueError)            an argument or configuration value is wrong
    ├── InvalidImageError(ValueError)      an image (file, array, PIL mode) cannot be used
    │   └── ImageTooLargeError             more pixels than the decoder accepts (decompression bomb)
    ├── InvalidVideoError(ValueError)      a video file is corrupt, empty or not a video
    ├── ModelFormatError(ValueError)       a file is not a (readable) restyle model / checkpoint
    │   └── EngineMismatchError            an engine built for another TensorRT, GPU or model
    ├── DependencyError(ImportError)       an optional dependency is missing: names the extra
    ├── BackendUnavailableError            a requested backend cannot run here (no GPU, no driver …)
    ├── BackendError                       a backend failed while running
    │   ├── CudaError                      a CUDA runtime / driver call returned an error code
    │   └── OutOfMemoryError(MemoryError)  the device ran out of memory
    ├── ExportError                        an export step failed (checker, accuracy gate, build)
    ├── QualityGateError(ValueError)       a bf16 / int8 model is too far from fp32 (PSNR given)
    ├── TrainingError                      training cannot start or continue
    └── OutputError(OSError)               an output cannot be written (permissions, disk …)

Messages name the problem and the fix, e.g. ``engine was built with TensorRT 10.13, this is 11.4:
rebuild with `restyle export --trt```. Foreign exceptions are translated at the boundary with
``raise ... from exc`` so the original stays visible.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "ConfigError",
    "CudaError",
    "DependencyError",
    "EngineMismatchError",
    "ExportError",
    "ImageTooLargeError",
    "InvalidImageError",
    "InvalidVideoError",
    "ModelFormatError",
    "OutOfMemoryError",
    "OutputError",
    "QualityGateError",
    "RestyleError",
    "TrainingError",
]


class RestyleError(Exception):
    """Base class of every error restyle raises on purpose."""


class ConfigError(RestyleError, ValueError):
    """An argument or configuration value is invalid."""


class InvalidImageError(RestyleError, ValueError):
    """An image cannot be read or converted (corrupt file, unsupported mode/dtype, bad shape)."""


class ImageTooLargeError(InvalidImageError):
    """An encoded image declares more pixels than the decoder accepts (a decompression bomb)."""


class InvalidVideoError(RestyleError, ValueError):
    """A video cannot be read: corrupt, not a video, or without frames."""


class ModelFormatError(RestyleError, ValueError):
    """A file is not a readable restyle model, checkpoint or engine."""


class EngineMismatchError(ModelFormatError):
    """A TensorRT engine was built for another TensorRT version, GPU or ONNX model."""


class DependencyError(RestyleError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


class BackendUnavailableError(RestyleError):
    """A backend cannot run on this machine (missing GPU, driver, runtime library, ...)."""


class BackendError(RestyleError):
    """A backend failed while running a model."""


class CudaError(BackendError):
    """A CUDA runtime or driver call returned an error code."""


class OutOfMemoryError(BackendError, MemoryError):
    """The device ran out of memory; a smaller batch or tile may fit."""


class ExportError(RestyleError):
    """An export step failed: the ONNX checker, the accuracy gate or an engine build."""


class QualityGateError(RestyleError, ValueError):
    """A reduced-precision model is too far from fp32 on held-out photos (the message gives the
    measured PSNR and the threshold)."""


class TrainingError(RestyleError):
    """Training cannot start or continue (bad style image, empty content folder, ...)."""


class OutputError(RestyleError, OSError):
    """An output file or folder cannot be written."""
