"""ONNX Runtime's CUDA execution provider with IOBinding on buffers and a stream of our own.

Split like Polygraphy's ONNX Runtime backend: :class:`OrtCudaSessionLoader` makes the ready
session (the expensive part, done once), and :class:`OrtCudaBackend` is the runner whose
constructor only stores it; :meth:`~OrtCudaBackend.activate` allocates the stream's buffers and
:meth:`~OrtCudaBackend.close` releases them.

The session runs on our stream (``user_compute_stream``); the input is copied from a pinned host
buffer to a device buffer bound with IOBinding, and the output comes back the same way, so no
pageable copies are made. ONNX Runtime treats a stream handle of 0 as "no stream" and runs on its
own, so with the legacy default stream (an application stream of 0) the copy is synchronised
before the run. The output is bound with the element type the session declares for it (a uint8
model returns uint8, a float model float32 or float16). ``run_with_iobinding`` returns only when
the run is finished, so batches do not overlap on the device here; ``Stylizer``'s prefetch thread
still overlaps reading and preparing frames. Runs are serialised by a lock (one binding and one
pair of buffers).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle._optional import require
from restyle.backends.base import (
    BackendConfig,
    BackendInfo,
    BaseBackend,
    Batch,
    ModelSource,
    missing_for_onnx,
    missing_gpu,
    translate_error,
)
from restyle.backends.ort_cpu import session_io
from restyle.backends.registry import register_backend
from restyle.cuda import CudaRuntime, get_runtime
from restyle.cuda.buffers import Slot
from restyle.errors import BackendUnavailableError, ModelFormatError, RestyleError
from restyle.precision import graph_precision

__all__ = ["OrtCudaBackend", "OrtCudaSessionLoader", "bound_output", "numpy_dtype"]

_ORT_TYPES = {"tensor(uint8)": np.uint8, "tensor(float)": np.float32,
              "tensor(float16)": np.float16}


def numpy_dtype(ort_type: str) -> np.dtype[Any]:
    """The numpy dtype of an ONNX Runtime type string.

    Example:
        >>> numpy_dtype("tensor(float16)")
        dtype('float16')
    """
    try:
        return np.dtype(_ORT_TYPES[ort_type])
    except KeyError:
        raise ModelFormatError(f"unsupported model tensor type {ort_type}: restyle models take "
                               "and return uint8, float32 or float16 images") from None


def bound_output(session: Any, name: str, model_input: NDArray[Any]
                 ) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """Element type and shape to bind output ``name`` with, for ``model_input``: the type the
    session declares for that output, the shape of the input (style networks keep the size)."""
    declared = {o.name: o.type for o in session.get_outputs()}
    return numpy_dtype(declared[name]), tuple(int(v) for v in model_input.shape)


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    missing = missing_for_onnx(model, "onnxruntime", "onnxruntime-gpu")
    if missing is not None:
        return missing
    ort = require("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime has no CUDAExecutionProvider (the CPU wheel is installed)"
    return missing_gpu()


class OrtCudaSessionLoader:
    """Makes the CUDA session for ``model`` on ``device``, running on the stream ``stream_handle``
    (0: ONNX Runtime's own stream). Call it to get the session; the first call creates it.

    Example:
        >>> session = OrtCudaSessionLoader(ModelSource(path, "onnx"), 0, handle)()  # doctest: +SKIP
    """

    def __init__(self, model: ModelSource, device: int, stream_handle: int) -> None:
        self.model, self.device, self.stream_handle = model, device, stream_handle
        self._session: Any = None

    def __call__(self) -> Any:
        if self._session is None:
            ort = require("onnxruntime")
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            cuda_options = {"device_id": str(self.device), "cudnn_conv_algo_search": "HEURISTIC"}
            if self.stream_handle != 0:  # ORT ignores 0 and would log that it has no stream
                cuda_options["user_compute_stream"] = str(self.stream_handle)
            try:
                session = ort.InferenceSession(
                    str(self.model.path), sess_options=options,
                    providers=[("CUDAExecutionProvider", cuda_options), "CPUExecutionProvider"])
            except Exception as exc:  # ORT raises its own exception types
                raise ModelFormatError(f"ONNX Runtime cannot load {self.model.path}: {exc}") \
                    from exc
            if session.get_providers()[0] != "CUDAExecutionProvider":
                raise BackendUnavailableError("onnxruntime-gpu could not start CUDA (CUDA or "
                                              "cuDNN libraries missing?): see the ONNX Runtime "
                                              "CUDA requirements")
            self._session = session
        return self._session


class OrtCudaBackend(BaseBackend):
    """The ONNX Runtime CUDA runner with IOBinding (a cheap constructor: the session is made by
    :class:`OrtCudaSessionLoader`).

    Example:
        >>> be = OrtCudaBackend.open(ModelSource(path, "onnx"), BackendConfig())  # doctest: +SKIP
        >>> be.run(np.zeros((2, 256, 256, 3), np.uint8)).shape  # doctest: +SKIP
        (2, 256, 256, 3)
    """

    def __init__(self, session: Any, model: ModelSource, config: BackendConfig,
                 cuda: CudaRuntime, slot: Slot) -> None:
        self._session, self._cuda, self._slot = session, cuda, slot
        self._device = config.device
        self._in, self._out, self._io = session_io(session, model)
        self._lock = threading.Lock()
        precision = graph_precision(model.path)  # what the graph's nodes and weights compute in
        stream = "ONNX Runtime's stream" if slot.stream.handle == 0 else f"{cuda.name} stream"
        super().__init__(BackendInfo("ort_cuda", "CUDAExecutionProvider", precision,
                                     f"cuda:{config.device}", detail=f"IOBinding, {stream}"))

    @classmethod
    def open(cls, model: ModelSource, config: BackendConfig) -> OrtCudaBackend:
        """Load ``model`` and return a runner ready to infer (what ``Stylizer`` calls)."""
        cuda = get_runtime(config.cuda, device=config.device)
        cuda.activate()
        try:
            slot = Slot(cuda, config.stream)
            try:
                session = OrtCudaSessionLoader(model, config.device, slot.stream.handle)()
                return cls(session, model, config, cuda, slot)
            except BaseException:
                slot.close()
                raise
        finally:
            cuda.deactivate()

    def _run_impl(self, batch: Batch) -> Batch:
        x = self._io.to_model(batch)
        slot = self._slot
        with self._lock:
            self._cuda.activate()
            try:
                dtype, shape = bound_output(self._session, self._out, x)
                slot.copy_in(self._cuda, x)
                out_bytes = int(np.prod(shape)) * dtype.itemsize
                slot.outputs.ensure(out_bytes)
                if slot.stream.handle == 0:  # ORT runs on its own stream: let the copy finish
                    slot.stream.synchronize()
                binding = self._session.io_binding()
                binding.bind_input(self._in, device_type="cuda", device_id=self._device,
                                   element_type=x.dtype.type, shape=tuple(x.shape),
                                   buffer_ptr=slot.inputs.device.ptr)
                binding.bind_output(self._out, device_type="cuda", device_id=self._device,
                                    element_type=dtype.type, shape=shape,
                                    buffer_ptr=slot.outputs.device.ptr)
                self._session.run_with_iobinding(binding)
                self._cuda.copy_d2h(slot.outputs.host, slot.outputs.device, out_bytes,
                                    slot.stream)
                slot.stream.synchronize()
                raw = slot.outputs.host.view(out_bytes).copy()
            except RestyleError:
                raise
            except Exception as exc:  # translated at the boundary
                raise translate_error(exc, backend="ort_cuda", shape=batch.shape) from exc
            finally:
                self._cuda.deactivate()
        return self._io.from_model(raw.view(dtype).reshape(shape))

    def _close_impl(self) -> None:
        try:
            del self._session
        finally:
            self._cuda.activate()
            try:
                self._slot.close()
            finally:
                self._cuda.deactivate()


register_backend("ort_cuda", rank=20, summary="ONNX Runtime, CUDA", probe=_probe,
                 fix="install `pip install 'restyle[gpu]'` (onnxruntime-gpu + cuda-python, "
                     "replacing onnxruntime) on a machine with an NVIDIA GPU")(OrtCudaBackend.open)
