"""TensorRT: the fastest backend, with batches in flight on their own CUDA streams.

Split like Polygraphy's TensorRT backend: :class:`TensorRTLoader` produces the ready engine (an
``.engine`` file as named, or for an ``.onnx`` model the engine from restyle's private cache,
built on first use by :func:`restyle.trt.build.build_engine`; see :mod:`restyle.trt.loader` for
which engines are loaded), once; :class:`TensorRTBackend` is the runner: its constructor only
stores the engine, :meth:`~TensorRTBackend.activate` creates the execution context and the
stream slots (on first use at the latest), :meth:`~TensorRTBackend.deactivate` releases them and
:meth:`~TensorRTBackend.close` ends the runner, so one engine serves many runners.

One execution context serves every slot (an engine with one optimisation profile allows one
context per profile). Each batch is copied in, run and copied out on its slot's stream; the next
batch's stream waits on an event for the previous compute only, so the host-to-device copy of batch
``k+1`` and the device-to-host copy of batch ``k-1`` overlap the compute of batch ``k`` (three
slots, the default, let all three be in flight). The enqueue itself is serialised by a lock;
``wait`` blocks only on its own slot. With ``cuda_graph=True`` the second run of each shape is
captured into a CUDA graph (cuda-python only); a capture that fails is ended and that shape runs
without a graph from then on, as trtexec does.

Why over 300 lines: the loader (engine from the cache, a named file or a build) and the runner
(slots, CUDA graphs, static shapes) are one backend's two halves and are read together.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from restyle.backends.base import (
    BackendConfig,
    BackendInfo,
    BaseBackend,
    Batch,
    ModelIO,
    ModelSource,
    Waitable,
    missing_gpu,
    translate_error,
)
from restyle.backends.registry import register_backend
from restyle.cuda import CudaRuntime, get_runtime
from restyle.cuda.buffers import InFlight, Slot, SlotPool
from restyle.errors import BackendError, EngineMismatchError, RestyleError
from restyle.paths import engine_cache_dir
from restyle.trt.build import build_engine, cached_engine
from restyle.trt.loader import REBUILD, LoadedEngine, engine_shapes, load_engine
from restyle.trt.target import load_tensorrt, tensorrt_problem

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["TensorRTBackend", "TensorRTLoader"]

log = logging.getLogger("restyle.backends.tensorrt")


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    problem = tensorrt_problem()
    if problem is not None:
        return problem
    return missing_gpu()


def wants_fp16(config: BackendConfig) -> bool:
    """Whether to build FP16 engines: the one place the TensorRT backend reads the precision."""
    return config.precision in ("auto", "fp16")  # FP16 kernels unless fp32 is asked


def _dims(d: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in d)


class TensorRTLoader:
    """Produces the ready engine for ``model`` (build or reuse the cached one for an ONNX file);
    calling it again returns the same engine.

    Example:
        >>> engine = TensorRTLoader(ModelSource(Path("m.onnx"), "onnx"), BackendConfig())()
        ... # doctest: +SKIP
    """

    def __init__(self, model: ModelSource, config: BackendConfig) -> None:
        self.model, self.config = model, config
        self._loaded: LoadedEngine | None = None

    def _engine_path(self) -> Path:
        model, config = self.model, self.config
        if model.kind == "engine":
            return model.path
        path = cached_engine(model.path, fp16=wants_fp16(config), device=config.device)
        if path is None:
            log.warning("building TensorRT engine for %s (first use, cached in %s); this takes a "
                        "few minutes once", model.path, engine_cache_dir())
            path = build_engine(model.path, fp16=wants_fp16(config), device=config.device)
        return path

    def __call__(self) -> LoadedEngine:
        if self._loaded is None:
            cuda = get_runtime(self.config.cuda, device=self.config.device)
            cuda.activate()  # deserialise on the engine's device
            try:
                self._loaded = load_engine(self._engine_path(), device=self.config.device,
                                           named_by_user=self.model.kind == "engine")
            finally:
                cuda.deactivate()
        return self._loaded


class TensorRTBackend(BaseBackend):
    """A TensorRT engine run with CUDA streams in flight (the runner: cheap to construct).

    Example:
        >>> be = TensorRTBackend.open(ModelSource(Path("m.engine"), "engine"),
        ...                           BackendConfig())  # doctest: +SKIP
        >>> be.run(np.zeros((4, 720, 1280, 3), np.uint8)).shape  # doctest: +SKIP
        (4, 720, 1280, 3)
    """

    def __init__(self, loaded: LoadedEngine, config: BackendConfig) -> None:
        self._loaded, self._config = loaded, config
        self._engine: trt.ICudaEngine = loaded.engine
        self._find_io(load_tensorrt())
        self._cuda: CudaRuntime | None = None
        self._context: trt.IExecutionContext | None = None
        self._pool: SlotPool | None = None
        self._enqueue = threading.Lock()
        self._activation = threading.Lock()
        self._last_compute: Slot | None = None
        self._graphs = config.cuda_graph
        self._no_graph: set[tuple[Any, ...]] = set()  # shapes whose capture failed
        detail = (f"engine {loaded.path}, {max(1, config.slots)} stream slot(s)"
                  + (", CUDA graphs" if self._graphs else "")
                  + (", application stream" if config.stream is not None else ""))
        super().__init__(BackendInfo("tensorrt", f"TensorRT {loaded.version}", loaded.precision,
                                     f"cuda:{config.device}", detail=detail))

    @classmethod
    def open(cls, model: ModelSource, config: BackendConfig) -> TensorRTBackend:
        """Load (or build) the engine for ``model`` and return an active runner (what
        ``Stylizer`` calls)."""
        runner = cls(TensorRTLoader(model, config)(), config)
        runner.activate()
        return runner

    def activate(self) -> None:
        """Create the CUDA runtime, the execution context and the stream slots (idempotent,
        thread-safe)."""
        with self._activation:
            if self._pool is None and not self._closed:
                self._activate()

    def _activate(self) -> None:
        config = self._config
        cuda = get_runtime(config.cuda, device=config.device)
        cuda.activate()
        try:
            context = self._engine.create_execution_context()
            if context is None:
                raise BackendError(f"TensorRT could not create an execution context for "
                                   f"{self._loaded.path}: the GPU may be out of memory")
            pool = SlotPool(cuda, config.slots, config.stream)
        finally:
            cuda.deactivate()
        self._cuda, self._context, self._pool = cuda, context, pool

    def _find_io(self, trt_mod: Any) -> None:
        engine = self._engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt_mod.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or len(outputs) != 1:
            raise EngineMismatchError(f"engine has inputs {inputs} and outputs {outputs}, not one "
                                      f"image in and one out: {REBUILD}")
        self._in, self._out = inputs[0], outputs[0]
        in_dtype = np.dtype(trt_mod.nptype(engine.get_tensor_dtype(self._in)))
        self._out_dtype = np.dtype(trt_mod.nptype(engine.get_tensor_dtype(self._out)))
        self._nhwc = in_dtype == np.uint8
        self._io = ModelIO("uint8_nhwc" if self._nhwc else "float32_nchw",
                           np.float16 if in_dtype == np.float16 else np.float32)
        shapes = engine_shapes(engine, self._in, nhwc=self._nhwc)
        self._min = shapes.min
        self._min_hw = (shapes.min[1], shapes.min[2])
        self._max = shapes.max

    @property
    def max_shape(self) -> tuple[int, int, int] | None:
        return self._max

    def _run_impl(self, batch: Batch) -> Batch:
        work = self.submit(batch, block=True)
        if work is None:  # pragma: no cover - a blocking submit always returns work
            raise BackendError("no TensorRT slot became free")
        return work.wait()

    def submit(self, batch: Batch, *, block: bool = True) -> Waitable[Batch] | None:
        """Queue copy-in, compute and copy-out of ``batch`` on a free slot's stream."""
        self._check(batch)
        self.activate()
        pool, cuda = self._pool, self._cuda
        if pool is None or cuda is None:  # pragma: no cover - activate() sets both
            raise BackendError("the TensorRT runner is not active")
        n, h, w = (int(v) for v in batch.shape[:3])
        mn, mh, mw = self._min
        padded = batch
        if h < mh or w < mw:  # below the engine's profile: pad by reflection, crop afterwards
            padded = np.pad(batch, ((0, 0), (0, max(0, mh - h)), (0, max(0, mw - w)), (0, 0)),
                            mode="symmetric")
        if n < mn:  # a static batch size: repeat the last image, drop the extras afterwards
            padded = np.concatenate([padded, np.repeat(padded[-1:], mn - n, axis=0)])
        slot = pool.acquire(block=block)
        if slot is None:
            return None
        cuda.activate()
        try:
            x = self._io.to_model(np.ascontiguousarray(padded))
            shape = tuple(int(v) for v in x.shape)
            old = slot.inputs.capacity, slot.outputs.capacity
            slot.copy_in(cuda, x)
            with self._enqueue:
                context = self._active_context()
                if not context.set_input_shape(self._in, shape):
                    raise BackendError(f"TensorRT rejected input shape {shape}; the engine takes "
                                       f"{self._min} to {self._max}")
                out_shape = _dims(context.get_tensor_shape(self._out))
                out_bytes = int(np.prod(out_shape)) * self._out_dtype.itemsize
                slot.outputs.ensure(out_bytes)
                if (slot.inputs.capacity, slot.outputs.capacity) != old:
                    slot.drop_graphs()
                self._enqueue_compute(context, slot, shape)
            cuda.copy_d2h(slot.outputs.host, slot.outputs.device, out_bytes, slot.stream)
            slot.done.record(slot.stream)
        except BaseException as exc:
            self._abandon(pool, slot)
            if isinstance(exc, RestyleError):
                raise
            if isinstance(exc, Exception):
                raise translate_error(exc, backend="tensorrt", shape=batch.shape) from exc
            raise
        finally:
            cuda.deactivate()

        def convert(raw: NDArray[np.uint8]) -> Batch:
            out = self._io.from_model(raw.view(self._out_dtype).reshape(out_shape))
            return out[:n, :h, :w] if out.shape[:3] != (n, h, w) else out

        return InFlight(pool, slot, out_bytes, convert, cuda)

    def _active_context(self) -> trt.IExecutionContext:
        if self._context is None:
            raise BackendError("the TensorRT runner is closed: create a new Stylizer")
        return self._context

    def _enqueue_compute(self, ctx: trt.IExecutionContext, slot: Slot,
                         shape: tuple[int, ...]) -> None:
        """Bind the slot's buffers and queue the engine (or its captured graph); lock held."""
        if self._last_compute is not None and self._last_compute is not slot:
            slot.stream.wait_event(self._last_compute.computed)  # shared context scratch memory
        if not (ctx.set_tensor_address(self._in, slot.inputs.device.ptr)
                and ctx.set_tensor_address(self._out, slot.outputs.device.ptr)):
            raise BackendError("TensorRT rejected the tensor addresses")
        key = (shape, slot.inputs.device.ptr, slot.outputs.device.ptr)
        graph = slot.graphs.get(key) if self._graphs else None
        if graph is not None:
            graph.launch(slot.stream)
        else:
            if not ctx.execute_async_v3(slot.stream.handle):
                raise BackendError(f"TensorRT execute_async_v3 failed for shape {shape}")
            if self._graphs and key not in self._no_graph:
                self._try_capture(ctx, slot, key)  # the first run set TensorRT up for this shape
        slot.computed.record(slot.stream)
        self._last_compute = slot

    def _try_capture(self, ctx: trt.IExecutionContext, slot: Slot, key: tuple[Any, ...]) -> None:
        """Capture the next runs of this shape in a graph; on failure (the capture is ended by
        the CUDA layer) run this shape without a graph from now on, like trtexec."""
        cuda = self._cuda
        if cuda is None:  # pragma: no cover - only called while active
            return

        def enqueue() -> None:
            if not ctx.execute_async_v3(slot.stream.handle):
                raise BackendError("TensorRT execute_async_v3 failed during capture")

        try:
            slot.graphs[key] = cuda.capture(slot.stream, enqueue)
        except RestyleError as exc:
            self._no_graph.add(key)
            log.warning("CUDA graph capture failed for shape %s (%s); running it without a graph",
                        key[0], exc)

    def _abandon(self, pool: SlotPool, slot: Slot) -> None:
        try:
            slot.stream.synchronize()
        except RestyleError:
            log.warning("stream error while abandoning a failed batch", exc_info=True)
        pool.release(slot)

    def _close_impl(self) -> None:
        self.deactivate()

    def deactivate(self) -> None:
        """Release the slots and the execution context; the engine stays with its loader, and
        :meth:`activate` (or the next batch) sets them up again."""
        with self._activation:
            pool, cuda, self._pool = self._pool, self._cuda, None
            if pool is None or cuda is None:
                return
            cuda.activate()
            try:
                pool.close()
            finally:
                self._context = None
                self._last_compute = None
                cuda.deactivate()


register_backend("tensorrt", rank=10, summary="TensorRT engine, CUDA", probe=_probe,
                 fix="install TensorRT and cuda-python (README, 'GPU') on a machine with an "
                     "NVIDIA GPU")(TensorRTBackend.open)
