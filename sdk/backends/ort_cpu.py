"""ONNX Runtime on the CPU: the fallback that runs everywhere.

Loading apart from running: :class:`SessionFromOnnx` (the loader) builds a session with every
graph optimisation, sequential execution and one intra-op thread per physical core;
:class:`OrtCpuBackend` (the runner) runs a session, built already or by a loader on
:meth:`~restyle.backends.base.BaseBackend.activate`. ``InferenceSession.run`` is thread-safe, so
several threads may call :meth:`OrtCpuBackend.run` at once (they share the cores), and several
runners may share one session.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
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
from restyle.modelinfo import IO_FLOAT32_NCHW, IO_UINT8_NHWC
from restyle.precision import graph_precision

#: An ONNX model as a loader takes it: what the registry knows, a file, or the file's bytes.
OnnxModel = ModelSource | bytes | str | os.PathLike[str]

__all__ = ["OnnxModel", "OrtCpuBackend", "SessionFromOnnx", "open_ort_cpu", "session_io"]


def session_io(session: Any, model: ModelSource | None) -> tuple[str, str, ModelIO]:
    """Input name, output name and layout converter of an ONNX Runtime session.

    Without ``model`` (a session from bytes, say) the first input and output are used and the
    layout follows the input's type: uint8 is ``uint8_nhwc``, float is ``float32_nchw``.
    """
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    if model is None:
        in_name, out_name = next(iter(inputs)), outputs[0]
        layout = IO_UINT8_NHWC if inputs[in_name].type == "tensor(uint8)" else IO_FLOAT32_NCHW
    else:
        in_name = model.input_name if model.input_name in inputs else next(iter(inputs))
        out_name = model.output_name if model.output_name in outputs else outputs[0]
        layout = model.io
    dtype = np.float16 if inputs[in_name].type == "tensor(float16)" else np.float32
    return in_name, out_name, ModelIO(layout, dtype)


def _where(model: OnnxModel) -> tuple[str | bytes, str]:
    """What ONNX Runtime / OpenVINO take (a path string or the bytes), and a name for messages."""
    if isinstance(model, ModelSource):
        return str(model.path), str(model.path)
    if isinstance(model, bytes):
        return model, "the in-memory ONNX model"
    return str(Path(model)), str(model)


class SessionFromOnnx:
    """Loader: an ONNX Runtime CPU session for an ONNX model (file or bytes).

    Calling it builds a new session; pass the loader to a backend to load on activation, or
    call it once and share the session between backends.

    Args:
        model: The model.
        threads: Intra-op threads; None means the physical cores.

    Example:
        >>> from restyle.styles import resolve_model
        >>> load = SessionFromOnnx(resolve_model("sunset"), threads=1)
        >>> session = load()
        >>> [i.name for i in session.get_inputs()]
        ['image']
    """

    def __init__(self, model: OnnxModel, *, threads: int | None = None) -> None:
        self.model = model
        self.threads = threads or physical_cores()

    def __call__(self) -> Any:
        """Build the session.

        Raises:
            ModelFormatError: ONNX Runtime cannot load the model.
            DependencyError: onnxruntime is not installed.
        """
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 4  # errors reach the caller as exceptions
        where, name = _where(self.model)
        try:
            return ort.InferenceSession(where, sess_options=options,
                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types
            raise ModelFormatError(f"ONNX Runtime cannot load {name}: {exc}; re-export the "
                                   "model with `restyle export`") from exc


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    return missing_for_onnx(model, "onnxruntime", "onnxruntime")


class OrtCpuBackend(BaseBackend):
    """Runner: ONNX Runtime's CPU execution provider on a session.

    Args:
        session: An ``onnxruntime.InferenceSession`` (shared: never released here) or a loader
            returning one, such as :class:`SessionFromOnnx` (called on :meth:`activate`; its
            session is released on :meth:`deactivate`).
        model: What is known about the model (input/output names, layout, precision); None
            reads them from the session.

    Example:
        >>> import numpy as np
        >>> from restyle.styles import resolve_model
        >>> session = SessionFromOnnx(resolve_model("sunset"), threads=1)()  # load once
        >>> with OrtCpuBackend(session) as a, OrtCpuBackend(session) as b:  # run twice
        ...     a.run(np.zeros((1, 32, 32, 3), np.uint8)).shape == b.run(
        ...         np.zeros((2, 32, 32, 3), np.uint8))[:1].shape
        True
    """

    def __init__(self, session: Any | Callable[[], Any], *,
                 model: ModelSource | None = None) -> None:
        self._source = session
        self._model = model
        self._session: Any = None
        precision = model.info.precision if model and model.info else "fp32"
        super().__init__(BackendInfo("ort_cpu", "CPUExecutionProvider", precision, "cpu"),
                         active=False)

    def _activate_impl(self) -> None:
        ort = require("onnxruntime")
        source = self._source
        session = source if isinstance(source, ort.InferenceSession) else source()
        self._in, self._out, self._io = session_io(session, self._model)
        threads = session.get_session_options().intra_op_num_threads
        # what the graph's nodes and weights compute in (a session from bytes: its metadata's)
        precision = graph_precision(self._model.path) if self._model else self._info.precision
        self._info = BackendInfo("ort_cpu", "CPUExecutionProvider", precision, "cpu",
                                 detail=f"{threads} intra-op thread(s), ORT_ENABLE_ALL")
        self._session = session

    def _deactivate_impl(self) -> None:
        self._session = None

    def _run_impl(self, batch: Batch) -> Batch:
        try:
            (out,) = self._session.run([self._out], {self._in: self._io.to_model(batch)})
        except Exception as exc:  # translated at the boundary
            raise translate_error(exc, backend="ort_cpu", shape=batch.shape) from exc
        return self._io.from_model(out)


@register_backend("ort_cpu", rank=40, summary="ONNX Runtime, CPU", probe=_probe,
                  fix="install it with `pip install 'restyle[cpu]'`")
def open_ort_cpu(model: ModelSource, config: BackendConfig) -> OrtCpuBackend:
    """The registry's factory: load ``model`` and return an active runner."""
    runner = OrtCpuBackend(SessionFromOnnx(model, threads=config.threads), model=model)
    runner.activate()
    return runner
