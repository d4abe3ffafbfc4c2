"""The one interface every backend implements, and what they share.

A backend runs a loaded model on ``N×H×W×3`` uint8 batches and returns batches of the same shape.
Like Polygraphy's runners, each public method of :class:`BaseBackend` checks state and then calls
one ``_*_impl`` method that a backend module fills in. Thread safety is each backend's promise:
``run`` and ``submit`` may be called from several threads at once.

Loading is apart from running, as in Polygraphy: a *loader* is a zero-argument callable that
builds the expensive thing (an ONNX Runtime session, an OpenVINO compiled model, an engine), e.g.
:class:`~restyle.backends.ort_cpu.SessionFromOnnx`; a backend (the *runner*) takes either the
built thing, to share one load between many runners, or the loader, which it then calls in
:meth:`BaseBackend.activate`. Its constructor stays cheap, so it can be made in a test from an
in-memory model and timed without the compile.

Why one module over 300 lines: it is the whole contract every backend module imports (the
Protocol, the runner base, the model's I/O layout, the error translation); split, each backend
would import it from four places.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self, TypeVar

import numpy as np
from numpy.typing import NDArray

from restyle.errors import BackendError, ConfigError, OutOfMemoryError
from restyle.modelinfo import IO_FLOAT32_NCHW, ModelInfo

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendInfo",
    "BaseBackend",
    "Batch",
    "Done",
    "ModelIO",
    "ModelSource",
    "Waitable",
    "translate_error",
]

log = logging.getLogger("restyle.backends")

Batch = NDArray[np.uint8]
R_co = TypeVar("R_co", covariant=True)


class Waitable(Protocol[R_co]):
    """Work in flight: :meth:`wait` blocks until it is done and returns its result."""

    def wait(self) -> R_co: ...


@dataclass(frozen=True)
class ModelSource:
    """A model file and what is known about it.

    Attributes:
        path: The ``.onnx`` or ``.engine`` file.
        kind: ``"onnx"`` or ``"engine"``.
        info: The restyle metadata (None for an engine without its ONNX file beside it).
    """

    path: Path
    kind: Literal["onnx", "engine"]
    info: ModelInfo | None = None

    @property
    def input_name(self) -> str:
        return self.info.input_name if self.info else "image"

    @property
    def output_name(self) -> str:
        return self.info.output_name if self.info else "stylized"

    @property
    def io(self) -> str:
        return self.info.io if self.info else "uint8_nhwc"


@dataclass(frozen=True)
class BackendConfig:
    """How a backend should run (built by ``Stylizer`` from its arguments).

    Attributes:
        device: CUDA device index (GPU backends).
        batch_size: The most frames one backend call receives, the same on every backend (the
            Stylizer's ``batch_size``). ONNX Runtime runs them as one batch, OpenVINO as
            parallel infer requests (THROUGHPUT hint above 1), the GPU backends size buffers and
            engine profiles for it.
        threads: CPU threads; None means the physical cores.
        cuda: CUDA binding for GPU backends: ``"auto"``, ``"cuda-python"`` or ``"pycuda"``.
        stream: An application's CUDA stream (int handle or torch / CuPy / pycuda stream object)
            to run on instead of streams of our own.
        cuda_graph: Capture the engine launch in a CUDA graph per input shape (TensorRT).
        slots: Batches in flight at once on GPU backends (each slot has its own stream). Three
            let the copy in of batch k+1, the compute of k and the copy out of k-1 overlap.
        precision: What to compute in (:data:`restyle.precision.PRECISIONS`): ``auto`` is the
            backend's fastest setting that keeps quality (TensorRT: FP16 kernels), ``fp32``
            / ``bf16`` / ``fp16`` set the runtime's precision, ``int8`` runs an int8 model.

    Raises:
        ConfigError: ``cuda_graph=True`` with ``cuda="pycuda"`` (pycuda has no stream capture).
    """

    device: int = 0
    batch_size: int = 8
    threads: int | None = None
    cuda: str = "auto"
    stream: object | None = None
    cuda_graph: bool = False
    slots: int = 3
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.cuda_graph and self.cuda == "pycuda":
            raise ConfigError("cuda_graph=True needs cuda='cuda-python' (or 'auto' with "
                              "cuda-python installed): pycuda has no CUDA stream capture")


@dataclass(frozen=True)
class BackendInfo:
    """What a backend reports about itself (shown in ``Stylizer.info``)."""

    name: str
    provider: str
    precision: str
    device: str
    detail: str = ""


class ModelIO:
    """Converts uint8 NHWC batches to and from the model's tensor layout.

    Example:
        >>> io = ModelIO("float32_nchw")
        >>> b = np.full((1, 2, 2, 3), 255, np.uint8)
        >>> x = io.to_model(b); x.shape, float(x.max())
        ((1, 3, 2, 2), 1.0)
        >>> bool((io.from_model(x) == b).all())
        True
    """

    def __init__(self, layout: str, dtype: type[np.floating] = np.float32) -> None:
        self.float_io = layout == IO_FLOAT32_NCHW
        self.dtype = dtype

    def to_model(self, batch: Batch) -> NDArray[np.generic]:
        if not self.float_io:
            return batch
        x = batch.transpose(0, 3, 1, 2).astype(self.dtype)
        x *= self.dtype(1.0 / 255.0)
        return np.ascontiguousarray(x)

    def from_model(self, out: NDArray[np.generic]) -> Batch:
        if not self.float_io:
            return np.ascontiguousarray(out, dtype=np.uint8)
        if not np.isfinite(out).all():
            raise BackendError("the model returned NaN or infinite values: its weights are "
                               "broken (or FP16 overflowed); re-export it from a good "
                               "checkpoint, in FP32")
        y = np.clip(np.rint(out.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(y.transpose(0, 2, 3, 1))

    def input_bytes(self, shape: tuple[int, int, int]) -> int:
        """Bytes of one model input (or output) tensor for an ``(N, H, W)`` batch."""
        n, h, w = shape
        return n * h * w * 3 * (np.dtype(self.dtype).itemsize if self.float_io else 1)


class Done:
    """Work that finished when it was submitted (CPU backends)."""

    def __init__(self, result: Batch) -> None:
        self._result = result

    def wait(self) -> Batch:
        return self._result


class Backend(Protocol):
    """What ``Stylizer`` needs from a backend."""

    @property
    def info(self) -> BackendInfo: ...

    @property
    def max_shape(self) -> tuple[int, int, int] | None:
        """Largest ``(N, H, W)`` the backend accepts, or None for no limit."""
        ...

    def run(self, batch: Batch) -> Batch: ...

    def submit(self, batch: Batch, *, block: bool = True) -> Waitable[Batch] | None: ...

    def close(self) -> None: ...


_OOM_MARKERS = ("out of memory", "failed to allocate", "bad_alloc", "cudaerrormemoryallocation",
                "out_of_memory", "cannot allocate memory")


def missing_for_onnx(model: ModelSource, module: str, package: str) -> str | None:
    """Why an ONNX-only backend cannot take ``model`` (an engine file, or ``module`` not
    installed), or None. The start of the ONNX backends' probes."""
    if model.kind != "onnx":
        return "it runs ONNX models, and this is a TensorRT engine"
    if importlib.util.find_spec(module) is None:
        return f"{package} is not installed"
    return None


def missing_gpu() -> str | None:
    """Why the CUDA backends cannot run here (no CUDA binding, or no GPU), or None."""
    from restyle.cuda import available_bindings
    from restyle.cuda.devices import list_gpus

    if not available_bindings():
        return "no CUDA binding (cuda-python or pycuda) is installed"
    gpus, reason = list_gpus()
    return None if gpus else reason


def translate_error(exc: BaseException, *, backend: str, shape: tuple[int, ...]) -> BackendError:
    """A foreign exception from a runtime as :class:`OutOfMemoryError` or :class:`BackendError`."""
    text = str(exc)
    if isinstance(exc, MemoryError) or any(m in text.lower() for m in _OOM_MARKERS):
        return OutOfMemoryError(f"{backend} ran out of memory on a batch of shape {shape}: use a "
                                f"smaller batch_size or tile_size ({text.strip()[:300]})")
    return BackendError(f"{backend} failed on a batch of shape {shape}: {text.strip()[:500]}")


class BaseBackend:
    """A runner: checks state and input, then calls one ``_*_impl`` method.

    Lifecycle (Polygraphy's ``BaseRunner``): the constructor only stores what it is given (a
    loaded model, or a loader that builds it); :meth:`activate` makes it runnable (a loader runs
    here, per-activation resources such as infer requests are made here); :meth:`run` infers;
    :meth:`deactivate` releases what activation made, and :meth:`activate` may follow again;
    :meth:`close` deactivates for good. ``with backend:`` activates it if needed and closes it.

    A backend built by ``open_backend`` (the registry) is returned active. Backends that load in
    their constructor pass ``active=True`` and leave ``_activate_impl`` empty.
    """

    def __init__(self, info: BackendInfo, *, active: bool = True) -> None:
        self._info = info
        self._closed = False
        self._active = active

    @property
    def info(self) -> BackendInfo:
        return self._info

    @property
    def max_shape(self) -> tuple[int, int, int] | None:
        return None

    @property
    def is_active(self) -> bool:
        """Whether :meth:`run` may be called now."""
        return self._active

    def activate(self) -> None:
        """Make the backend runnable (load what a loader describes, create per-run resources).

        Raises:
            BackendError: The backend is closed.
            ModelFormatError: A loader could not load the model.
        """
        if self._closed:
            raise BackendError(f"the {self._info.name} backend is closed: create a new one")
        if not self._active:
            self._activate_impl()
            self._active = True

    def deactivate(self) -> None:
        """Release what :meth:`activate` made; the backend may be activated again."""
        if self._active:
            self._active = False
            self._deactivate_impl()

    def _check(self, batch: Batch) -> None:
        if self._closed:
            raise BackendError(f"the {self._info.name} backend is closed: create a new Stylizer")
        if not self._active:
            raise BackendError(f"the {self._info.name} backend is not active: call activate() "
                               "first (or use it in a `with` block)")
        if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[3] != 3:
            raise ConfigError(f"a backend batch must be uint8 N×H×W×3, got {batch.dtype} "
                              f"{batch.shape}")

    def run(self, batch: Batch) -> Batch:
        """Run the model on one batch and return the stylised batch (same shape)."""
        self._check(batch)
        return self._run_impl(np.ascontiguousarray(batch))

    def submit(self, batch: Batch, *, block: bool = True) -> Waitable[Batch] | None:
        """Start one batch; CPU backends finish it before returning."""
        return Done(self.run(batch))

    def _activate_impl(self) -> None:
        """Load what a loader describes and create per-activation resources."""

    def _deactivate_impl(self) -> None:
        """Release what ``_activate_impl`` made."""

    def _run_impl(self, batch: Batch) -> Batch:
        raise NotImplementedError

    def _close_impl(self) -> None:
        """Release the backend's resources (sessions, buffers, streams)."""

    def close(self) -> None:
        """Deactivate and release the backend; later calls raise :class:`BackendError`.

        Raises:
            Exception: What releasing failed with (the backend counts as closed all the same).
        """
        if not self._closed:
            self._closed = True
            try:
                self.deactivate()
            finally:
                self._close_impl()

    def __enter__(self) -> Self:
        self.activate()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
