"""OpenVINO on the CPU (the ``[openvino]`` extra): the fastest CPU backend measured here.

Loading apart from running: :func:`compile_model` is the one place a model is compiled (with the
``LATENCY`` hint when batches are single frames, ``THROUGHPUT`` otherwise),
:class:`CompiledFromOnnx` is that call as a loader, and :class:`OpenVinoBackend` (the runner)
runs a compiled model. In throughput mode a batch is split into frames that run on parallel
infer requests (OpenVINO's CPU streams), which is how that mode uses all cores. Infer requests
come from a pool made on activation, so several threads may call
:meth:`OpenVinoBackend.run` at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
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
from restyle.backends.ort_cpu import OnnxModel, _where
from restyle.backends.registry import register_backend
from restyle.environment import physical_cores
from restyle.errors import ModelFormatError
from restyle.modelinfo import IO_FLOAT32_NCHW, IO_UINT8_NHWC
from restyle.precision import graph_precision, openvino_compile_hint, openvino_executed

__all__ = ["CompiledFromOnnx", "OpenVinoBackend", "compile_model", "open_openvino"]


def compile_model(model: OnnxModel, *, threads: int | None = None, throughput: bool = False,
                  options: Mapping[str, Any] | None = None) -> Any:
    """Compile an ONNX model (file or bytes) for OpenVINO's CPU plugin.

    Args:
        model: The model.
        threads: Inference threads; None means the physical cores.
        throughput: The ``THROUGHPUT`` hint (batches of several frames run as parallel infer
            requests) instead of ``LATENCY``.
        options: More CPU-plugin properties (e.g. ``INFERENCE_PRECISION_HINT``); they win over
            the two above.

    Returns:
        The ``openvino.CompiledModel``.

    Raises:
        ModelFormatError: OpenVINO cannot read or compile the model.
        DependencyError: openvino is not installed.
    """
    ov = require("openvino")
    hint = "THROUGHPUT" if throughput else "LATENCY"
    where, name = _where(model)
    core = ov.Core()
    try:
        source = core.read_model(where) if isinstance(where, bytes) else where
    except Exception as exc:  # OpenVINO raises RuntimeError for model problems
        raise ModelFormatError(f"OpenVINO cannot read {name}: {exc}; re-export the model with "
                               "`restyle export`") from exc
    properties = {"PERFORMANCE_HINT": hint,
                  "INFERENCE_NUM_THREADS": threads or physical_cores(), **(options or {})}
    try:
        return core.compile_model(source, "CPU", properties)
    except Exception as exc:  # a file it cannot parse, or a layer its CPU kernels lack
        from restyle.precision import cpu_isa

        reduced = str((options or {}).get("INFERENCE_PRECISION_HINT", "f32")) != "f32"
        way_out = ("its kernels for this CPU lack a layer of the model in that precision: run it "
                   "in fp32 (`--precision fp32`) or on another backend (`--backend ort_cpu`)"
                   if reduced else
                   "re-export it with `restyle export` if the file is old or damaged, else run "
                   "it on another backend (`--backend ort_cpu`) or in fp32 (`--precision fp32`)")
        raise ModelFormatError(
            f"OpenVINO cannot compile {name} for this CPU ({cpu_isa()}, precision options "
            f"{dict(options or {})}): {exc}; {way_out}") from exc


class CompiledFromOnnx:
    """Loader: :func:`compile_model` with its arguments, called when the model is needed.

    Example:
        >>> from restyle.styles import resolve_model
        >>> compiled = CompiledFromOnnx(resolve_model("sunset"), threads=1)()
        >>> [p.get_any_name() for p in compiled.inputs]
        ['image']
    """

    def __init__(self, model: OnnxModel, *, threads: int | None = None, throughput: bool = False,
                 options: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.threads = threads
        self.throughput = throughput
        self.options = dict(options or {})

    def __call__(self) -> Any:
        return compile_model(self.model, threads=self.threads, throughput=self.throughput,
                             options=self.options)


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    return missing_for_onnx(model, "openvino", "openvino (pip install 'restyle[openvino]')")


class OpenVinoBackend(BaseBackend):
    """Runner: OpenVINO's CPU plugin on a compiled model.

    Args:
        compiled: An ``openvino.CompiledModel`` (shared: never released here) or a loader
            returning one, such as :class:`CompiledFromOnnx` (called on :meth:`activate`; the
            compiled model is released on :meth:`deactivate`).
        model: What is known about the model (input name, layout, precision); None reads them
            from the compiled model.

    Example:
        >>> import numpy as np
        >>> from restyle.styles import resolve_model
        >>> compiled = compile_model(resolve_model("sunset"), threads=1)  # compile once
        >>> with OpenVinoBackend(compiled) as be:  # a cheap runner on it
        ...     be.run(np.zeros((2, 32, 32, 3), np.uint8)).shape
        (2, 32, 32, 3)
    """

    def __init__(self, compiled: Any | Callable[[], Any], *,
                 model: ModelSource | None = None) -> None:
        self._source = compiled
        self._model = model
        self._compiled: Any = None
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._requests = 1
        self._throughput = False
        self._lock = threading.Lock()
        precision = model.info.precision if model and model.info else "fp32"
        super().__init__(BackendInfo("openvino", "OpenVINO CPU", precision, "cpu"), active=False)

    def _activate_impl(self) -> None:
        ov = require("openvino")
        # A CompiledModel is itself callable (it infers): tell it from a loader by its type.
        source = self._source
        compiled = source if isinstance(source, ov.CompiledModel) else source()
        hint = str(compiled.get_property("PERFORMANCE_HINT")).rsplit(".", 1)[-1]
        self._throughput = hint == "THROUGHPUT"
        optimal = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        self._requests = max(1, int(optimal))
        self._created = 0
        inputs = [p.get_any_name() for p in compiled.inputs]
        model = self._model
        self._in = model.input_name if model and model.input_name in inputs else inputs[0]
        element = compiled.inputs[inputs.index(self._in)].get_element_type()
        in_type = str(element)
        if model is not None:
            layout = model.io
        else:
            layout = IO_UINT8_NHWC if element == ov.Type.u8 else IO_FLOAT32_NCHW
        self._io = ModelIO(layout, np.float16 if "f16" in in_type else np.float32)
        threads = compiled.get_property("INFERENCE_NUM_THREADS")
        stored = graph_precision(model.path) if model is not None else "fp32"
        precision, runs = openvino_executed(compiled, stored)  # read back from the runtime
        self._info = BackendInfo(
            "openvino", f"OpenVINO {ov.get_version().split('-')[0]} CPU", precision, "cpu",
            detail=f"{hint} hint, {threads} thread(s), {self._requests} infer request(s)"
                   + (f", {runs}" if runs else ""))
        self._compiled = compiled

    def _deactivate_impl(self) -> None:
        while not self._pool.empty():
            self._pool.get_nowait()
        self._compiled = None

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


@register_backend("openvino", rank=30, summary="OpenVINO, CPU", probe=_probe,
                  fix="install it with `pip install 'restyle[openvino]'`")
def open_openvino(model: ModelSource, config: BackendConfig) -> OpenVinoBackend:
    """The registry's factory: compile ``model`` (``THROUGHPUT`` when ``config.batch_size`` is
    above 1) and return an active runner."""
    hint = openvino_compile_hint(config.precision, graph_precision(model.path))
    loader = CompiledFromOnnx(model, threads=config.threads, throughput=config.batch_size > 1,
                              options=hint)
    runner = OpenVinoBackend(loader, model=model)
    runner.activate()
    return runner
