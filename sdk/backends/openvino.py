"""OpenVINO on the CPU (the ``[openvino]`` extra): the fastest CPU backend measured here.

The ONNX model is compiled with the ``LATENCY`` hint when batches are single frames and with
``THROUGHPUT`` otherwise; in throughput mode a batch is split into frames that run on parallel
infer requests (OpenVINO's CPU streams), which is how that mode uses all cores. Infer requests
come from a pool, so several threads may call :meth:`OpenVinoBackend.run` at once.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

from restyle._optional import require
from restyle.backends.base import (
    BackendConfig,
    BackendInfo,
    BaseBackend,
    Batch,
    ModelIO,
    ModelSource,
    missing_for_onnx,
    translate_error,
)
from restyle.backends.registry import register_backend
from restyle.environment import physical_cores
from restyle.errors import ModelFormatError
from restyle.precision import graph_precision, openvino_compile_hint, openvino_executed

__all__ = ["OpenVinoBackend"]


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    return missing_for_onnx(model, "openvino", "openvino (pip install 'restyle[openvino]')")


@register_backend("openvino", rank=30, summary="OpenVINO, CPU", probe=_probe,
                  fix="install it with `pip install 'restyle[openvino]'`")
class OpenVinoBackend(BaseBackend):
    """OpenVINO's CPU plugin.

    Example:
        >>> be = OpenVinoBackend(ModelSource(path, "onnx"), BackendConfig())  # doctest: +SKIP
        >>> be.run(np.zeros((2, 64, 64, 3), np.uint8)).shape  # doctest: +SKIP
        (2, 64, 64, 3)
    """

    def __init__(self, model: ModelSource, config: BackendConfig) -> None:
        ov = require("openvino")
        threads = config.threads or physical_cores()
        self._throughput = config.batch_size > 1
        hint = "THROUGHPUT" if self._throughput else "LATENCY"
        stored = graph_precision(model.path)
        try:
            core = ov.Core()
            self._compiled = core.compile_model(
                str(model.path), "CPU",
                {"PERFORMANCE_HINT": hint, "INFERENCE_NUM_THREADS": threads,
                 **openvino_compile_hint(config.precision, stored)})
        except Exception as exc:  # OpenVINO raises RuntimeError for model problems
            raise ModelFormatError(f"OpenVINO cannot compile {model.path}: {exc}; re-export the "
                                   "model with `restyle export`") from exc
        optimal = self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        self._requests = max(1, int(optimal))
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        inputs = [p.get_any_name() for p in self._compiled.inputs]
        self._in = model.input_name if model.input_name in inputs else inputs[0]
        in_type = str(self._compiled.inputs[inputs.index(self._in)].get_element_type())
        self._io = ModelIO(model.io, np.float16 if "f16" in in_type else np.float32)
        precision, runs = openvino_executed(self._compiled, stored)
        super().__init__(BackendInfo(
            "openvino", f"OpenVINO {ov.get_version().split('-')[0]} CPU", precision, "cpu",
            detail=f"{hint} hint, {threads} thread(s), {self._requests} infer request(s)"
                   + (f", {runs}" if runs else "")))

    def _acquire_blocking(self) -> Any:
        request = self._acquire(block=True)
        if request is None:  # pragma: no cover - a blocking get always returns
            raise RuntimeError("no OpenVINO infer request")
        return request

    def _acquire(self, block: bool) -> Any | None:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self._requests:
                self._created += 1
                return self._compiled.create_infer_request()
        return self._pool.get() if block else None

    def _run_impl(self, batch: Batch) -> Batch:
        x = self._io.to_model(batch)
        try:
            if not self._throughput or len(batch) == 1:
                request = self._acquire_blocking()
                try:
                    request.infer({self._in: x})
                    out = np.array(request.get_output_tensor(0).data)
                finally:
                    self._pool.put(request)
                return self._io.from_model(out)
            return self._io.from_model(self._run_parallel(x))
        except Exception as exc:  # translated at the boundary
            raise translate_error(exc, backend="openvino", shape=batch.shape) from exc

    def _run_parallel(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """One frame per infer request, as many requests at once as the pool gives."""
        held: list[Any] = [self._acquire_blocking()]
        while len(held) < len(x):
            more = self._acquire(block=False)
            if more is None:
                break
            held.append(more)
        outs: list[np.ndarray[Any, Any]] = []
        try:
            for start in range(0, len(x), len(held)):
                frames = x[start:start + len(held)]
                for request, frame in zip(held, frames, strict=False):
                    request.start_async({self._in: frame[None]})
                for request, _ in zip(held, frames, strict=False):
                    request.wait()
                    outs.append(np.array(request.get_output_tensor(0).data))
        finally:
            for request in held:
                try:
                    request.wait()  # never hand back a request that is still running
                finally:
                    self._pool.put(request)
        return np.concatenate(outs)

    def _close_impl(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait()
        del self._compiled
