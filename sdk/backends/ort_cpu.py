"""ONNX Runtime on the CPU: the fallback that runs everywhere.

One session per backend with every graph optimisation, sequential execution and one intra-op
thread per physical core. ``InferenceSession.run`` is thread-safe, so several threads may call
:meth:`OrtCpuBackend.run` at once (they share the cores).
"""

from __future__ import annotations

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
from restyle.precision import graph_precision

__all__ = ["OrtCpuBackend", "session_io"]


def session_io(session: Any, model: ModelSource) -> tuple[str, str, ModelIO]:
    """Input name, output name and layout converter of an ONNX Runtime session."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    in_name = model.input_name if model.input_name in inputs else next(iter(inputs))
    out_name = model.output_name if model.output_name in outputs else outputs[0]
    dtype = np.float16 if inputs[in_name].type == "tensor(float16)" else np.float32
    return in_name, out_name, ModelIO(model.io, dtype)


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    return missing_for_onnx(model, "onnxruntime", "onnxruntime")


@register_backend("ort_cpu", rank=40, summary="ONNX Runtime, CPU", probe=_probe,
                  fix="install it with `pip install 'restyle[cpu]'`")
class OrtCpuBackend(BaseBackend):
    """ONNX Runtime's CPU execution provider.

    Example:
        >>> from restyle.backends.base import ModelSource, BackendConfig
        >>> be = OrtCpuBackend(ModelSource(path, "onnx"), BackendConfig())  # doctest: +SKIP
        >>> be.run(np.zeros((1, 64, 64, 3), np.uint8)).shape  # doctest: +SKIP
        (1, 64, 64, 3)
    """

    def __init__(self, model: ModelSource, config: BackendConfig) -> None:
        ort = require("onnxruntime")
        threads = config.threads or physical_cores()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model.path), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types
            raise ModelFormatError(f"ONNX Runtime cannot load {model.path}: {exc}; re-export the "
                                   "model with `restyle export`") from exc
        self._in, self._out, self._io = session_io(self._session, model)
        precision = graph_precision(model.path)  # what the graph's nodes and weights compute in
        super().__init__(BackendInfo("ort_cpu", "CPUExecutionProvider", precision, "cpu",
                                     detail=f"{threads} intra-op thread(s), ORT_ENABLE_ALL"))

    def _run_impl(self, batch: Batch) -> Batch:
        try:
            (out,) = self._session.run([self._out], {self._in: self._io.to_model(batch)})
        except Exception as exc:  # translated at the boundary
            raise translate_error(exc, backend="ort_cpu", shape=batch.shape) from exc
        return self._io.from_model(out)

    def _close_impl(self) -> None:
        del self._session
