"""ONNX Runtime's CUDA execution provider with IOBinding on buffers and a stream of our own.

The session runs on our stream (``user_compute_stream``); the input is copied from a pinned host
buffer to a device buffer bound with IOBinding, and the output comes back the same way, so no
pageable copies are made. ``run_with_iobinding`` returns only when the run is finished, so batches
do not overlap on the device here; ``Stylizer``'s prefetch thread still overlaps reading and
preparing frames. Runs are serialised by a lock (one binding and one pair of buffers).
"""

from __future__ import annotations

import threading

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
from restyle.cuda import get_runtime
from restyle.cuda.buffers import Slot
from restyle.errors import BackendUnavailableError, ModelFormatError, RestyleError
from restyle.precision import graph_precision

__all__ = ["OrtCudaBackend"]


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    missing = missing_for_onnx(model, "onnxruntime", "onnxruntime-gpu")
    if missing is not None:
        return missing
    ort = require("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime has no CUDAExecutionProvider (the CPU wheel is installed)"
    return missing_gpu()


@register_backend("ort_cuda", rank=20, summary="ONNX Runtime, CUDA", probe=_probe,
                  fix="install `pip install 'restyle[gpu]'` (onnxruntime-gpu + cuda-python, "
                      "replacing onnxruntime) on a machine with an NVIDIA GPU")
class OrtCudaBackend(BaseBackend):
    """ONNX Runtime CUDA with IOBinding.

    Example:
        >>> be = OrtCudaBackend(ModelSource(path, "onnx"), BackendConfig())  # doctest: +SKIP
        >>> be.run(np.zeros((2, 256, 256, 3), np.uint8)).shape  # doctest: +SKIP
        (2, 256, 256, 3)
    """

    def __init__(self, model: ModelSource, config: BackendConfig) -> None:
        ort = require("onnxruntime")
        self._cuda = get_runtime(config.cuda, device=config.device)
        self._slot = Slot(self._cuda, config.stream)
        self._device = config.device
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        cuda_options = {"device_id": str(config.device),
                        "user_compute_stream": str(self._slot.stream.handle),
                        "cudnn_conv_algo_search": "HEURISTIC"}
        try:
            self._session = ort.InferenceSession(
                str(model.path), sess_options=options,
                providers=[("CUDAExecutionProvider", cuda_options), "CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types
            self._slot.close()
            raise ModelFormatError(f"ONNX Runtime cannot load {model.path}: {exc}") from exc
        if self._session.get_providers()[0] != "CUDAExecutionProvider":
            self._slot.close()
            raise BackendUnavailableError("onnxruntime-gpu could not start CUDA (CUDA or cuDNN "
                                          "libraries missing?): see the ONNX Runtime CUDA "
                                          "requirements")
        self._in, self._out, self._io = session_io(self._session, model)
        self._lock = threading.Lock()
        precision = graph_precision(model.path)  # what the graph's nodes and weights compute in
        super().__init__(BackendInfo("ort_cuda", "CUDAExecutionProvider", precision,
                                     f"cuda:{config.device}",
                                     detail=f"IOBinding, {self._cuda.name} stream"))

    def _run_impl(self, batch: Batch) -> Batch:
        x = self._io.to_model(batch)
        slot = self._slot
        with self._lock:
            try:
                self._cuda.activate()
                nbytes = slot.copy_in(self._cuda, x)
                slot.outputs.ensure(nbytes)
                binding = self._session.io_binding()
                binding.bind_input(self._in, device_type="cuda", device_id=self._device,
                                   element_type=x.dtype.type, shape=tuple(x.shape),
                                   buffer_ptr=slot.inputs.device.ptr)
                binding.bind_output(self._out, device_type="cuda", device_id=self._device,
                                    element_type=x.dtype.type, shape=tuple(x.shape),
                                    buffer_ptr=slot.outputs.device.ptr)
                self._session.run_with_iobinding(binding)
                self._cuda.copy_d2h(slot.outputs.host, slot.outputs.device, nbytes, slot.stream)
                slot.stream.synchronize()
                raw = slot.outputs.host.view(nbytes).copy()
            except RestyleError:
                raise
            except Exception as exc:  # translated at the boundary
                raise translate_error(exc, backend="ort_cuda", shape=batch.shape) from exc
        return self._io.from_model(raw.view(x.dtype).reshape(x.shape))

    def _close_impl(self) -> None:
        try:
            del self._session
        finally:
            self._slot.close()
