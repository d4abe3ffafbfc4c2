"""TensorRT: the fastest backend, with batches in flight on their own CUDA streams.

An ``.engine`` file is deserialised as is; for an ``.onnx`` model the engine comes from restyle's
engine cache (:func:`restyle.export.tensorrt.cached_engine`), built on first use by
:func:`restyle.export.tensorrt.build_engine` (keyed by the model's hash, the TensorRT version, the
GPU, the shape profile and the precision).

One execution context serves every slot (an engine with one optimisation profile allows one
context per profile). Each batch is copied in, run and copied out on its slot's stream; the next
batch's stream waits on an event for the previous compute only, so the host-to-device copy of batch
``k+1`` and the device-to-host copy of batch ``k-1`` overlap the compute of batch ``k``. The enqueue
itself is serialised by a lock; ``wait`` blocks only on its own slot.
"""

from __future__ import annotations

import importlib
import importlib.util
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
from restyle.cuda import get_runtime
from restyle.cuda.buffers import InFlight, Slot, SlotPool
from restyle.errors import (
    BackendError,
    BackendUnavailableError,
    DependencyError,
    EngineMismatchError,
    RestyleError,
)
from restyle.paths import engine_cache_dir

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["TensorRTBackend"]

log = logging.getLogger("restyle.backends.tensorrt")

REBUILD = "rebuild it with `restyle export MODEL --trt` on this machine"


def _tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise DependencyError(f"TensorRT cannot be imported ({exc}): install TensorRT from NVIDIA "
                              "(README, 'GPU')") from exc
    if not hasattr(tensorrt, "Runtime"):
        raise DependencyError("only tensorrt-stubs are installed, not the TensorRT runtime: "
                              "install TensorRT from NVIDIA (README, 'GPU')")
    return tensorrt


def _probe(model: ModelSource, config: BackendConfig) -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT is not installed"
    try:
        _tensorrt()
    except DependencyError as exc:
        return str(exc).split(":")[0]
    return missing_gpu()


def _export_tensorrt() -> Any:
    """restyle.export.tensorrt, by name only: the runtime never imports restyle.export eagerly."""
    try:
        return importlib.import_module("restyle.export.tensorrt")
    except ImportError as exc:
        raise BackendUnavailableError(f"building a TensorRT engine needs restyle's export tools "
                                      f"({exc}): pip install 'restyle[train]', or build the engine "
                                      "with `restyle export MODEL --trt` and pass the .engine "
                                      "file") from exc


def _engine_for_onnx(model: ModelSource, config: BackendConfig) -> Path:
    """The cached engine for ``model`` on this machine, built first if there is none."""
    export_trt = _export_tensorrt()
    fp16 = config.precision in ("auto", "fp16")  # FP16 kernels unless fp32 is asked
    path: Path | None = export_trt.cached_engine(model.path, fp16=fp16,
                                                 device=config.device)
    if path is None:
        log.warning("building TensorRT engine for %s (first use, cached in %s); this takes a "
                    "few minutes once", model.path, engine_cache_dir())
        path = Path(export_trt.build_engine(model.path, fp16=fp16, device=config.device))
    return path


def _engine_precision(path: Path, model: ModelSource) -> str:
    """The precision recorded in the engine's sidecar (written by restyle.export)."""
    try:
        record = importlib.import_module("restyle.export.engine_cache").read_sidecar(path)
        return str(record.precision)
    except (ImportError, EngineMismatchError):
        return model.info.precision if model.info else "unknown (no sidecar)"


def _check_named_engine(path: Path, device: int) -> None:
    """Refuse an engine the user named if its sidecar says it was built for another TensorRT,
    GPU or compute capability (restyle.export writes the sidecar beside every engine)."""
    try:
        cache = importlib.import_module("restyle.export.engine_cache")
        target = importlib.import_module("restyle.export.target")
    except ImportError:
        return
    if not cache.sidecar_path(path).exists():
        log.warning("%s has no restyle sidecar, so its TensorRT version and GPU cannot be checked "
                    "before loading; rebuild it with `restyle export MODEL --trt` to record them",
                    path)
        return
    cache.check_engine(path, target=target.detect_target(device=device))


def _deserialize(runtime: trt.Runtime, path: Path, version: str) -> trt.ICudaEngine:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EngineMismatchError(f"cannot read engine {path}: {exc}; {REBUILD}") from exc
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise EngineMismatchError(f"{path} cannot be loaded by TensorRT {version} on this GPU: "
                                  f"it was built by another TensorRT version or for another GPU; "
                                  f"{REBUILD}")
    return engine


def _dims(d: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in d)


@register_backend("tensorrt", rank=10, summary="TensorRT engine, CUDA", probe=_probe,
                  fix="install TensorRT and cuda-python (README, 'GPU') on a machine with an "
                      "NVIDIA GPU")
class TensorRTBackend(BaseBackend):
    """A TensorRT engine run with double-buffered CUDA streams.

    Example:
        >>> be = TensorRTBackend(ModelSource(Path("m.engine"), "engine"),
        ...                      BackendConfig())  # doctest: +SKIP
        >>> be.run(np.zeros((4, 720, 1280, 3), np.uint8)).shape  # doctest: +SKIP
        (4, 720, 1280, 3)
    """

    def __init__(self, model: ModelSource, config: BackendConfig) -> None:
        trt_mod = _tensorrt()
        version = str(getattr(trt_mod, "__version__", "?"))
        self._cuda = get_runtime(config.cuda, device=config.device)
        self._logger = trt_mod.Logger(trt_mod.Logger.WARNING)
        self._runtime: trt.Runtime = trt_mod.Runtime(self._logger)
        if model.kind == "engine":
            path = model.path
            _check_named_engine(path, config.device)
        else:
            path = _engine_for_onnx(model, config)
        self._engine: trt.ICudaEngine = _deserialize(self._runtime, path, version)
        self._find_io(trt_mod)
        self._context: trt.IExecutionContext = self._engine.create_execution_context()
        if self._context is None:
            raise BackendError(f"TensorRT could not create an execution context for {path}: the "
                               "GPU may be out of memory")
        self._pool = SlotPool(self._cuda, config.slots, config.stream)
        self._enqueue = threading.Lock()
        self._last_compute: Slot | None = None
        self._graphs = config.cuda_graph
        precision = _engine_precision(path, model)
        detail = (f"engine {path}, {len(self._pool.slots)} stream slot(s), {self._cuda.name}"
                  + (", CUDA graphs" if self._graphs else "")
                  + (", application stream" if config.stream is not None else ""))
        super().__init__(BackendInfo("tensorrt", f"TensorRT {version}", precision,
                                     f"cuda:{config.device}", detail=detail))

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
        lo, _, hi = (_dims(d) for d in engine.get_tensor_profile_shape(self._in, 0))
        hw = (1, 2) if self._nhwc else (2, 3)
        self._min_hw = (lo[hw[0]], lo[hw[1]])
        self._max = (hi[0], hi[hw[0]], hi[hw[1]])

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
        h, w = int(batch.shape[1]), int(batch.shape[2])
        mh, mw = self._min_hw
        padded = batch
        if h < mh or w < mw:  # below the engine's profile: pad by reflection, crop afterwards
            padded = np.pad(batch, ((0, 0), (0, max(0, mh - h)), (0, max(0, mw - w)), (0, 0)),
                            mode="symmetric")
        slot = self._pool.acquire(block=block)
        if slot is None:
            return None
        try:
            self._cuda.activate()
            x = self._io.to_model(np.ascontiguousarray(padded))
            shape = tuple(int(v) for v in x.shape)
            old = slot.inputs.capacity, slot.outputs.capacity
            slot.copy_in(self._cuda, x)
            with self._enqueue:
                if not self._context.set_input_shape(self._in, shape):
                    raise BackendError(f"TensorRT rejected input shape {shape}; the engine takes "
                                       f"up to {self._max}")
                out_shape = _dims(self._context.get_tensor_shape(self._out))
                out_bytes = int(np.prod(out_shape)) * self._out_dtype.itemsize
                slot.outputs.ensure(out_bytes)
                if (slot.inputs.capacity, slot.outputs.capacity) != old:
                    slot.drop_graphs()
                self._enqueue_compute(slot, shape)
            self._cuda.copy_d2h(slot.outputs.host, slot.outputs.device, out_bytes, slot.stream)
            slot.done.record(slot.stream)
        except BaseException as exc:
            self._abandon(slot)
            if isinstance(exc, RestyleError):
                raise
            if isinstance(exc, Exception):
                raise translate_error(exc, backend="tensorrt", shape=batch.shape) from exc
            raise

        def convert(raw: NDArray[np.uint8]) -> Batch:
            out = self._io.from_model(raw.view(self._out_dtype).reshape(out_shape))
            return out[:, :h, :w] if out.shape[1:3] != (h, w) else out

        return InFlight(self._pool, slot, out_bytes, convert)

    def _enqueue_compute(self, slot: Slot, shape: tuple[int, ...]) -> None:
        """Bind the slot's buffers and queue the engine (or its captured graph); lock held."""
        if self._last_compute is not None and self._last_compute is not slot:
            slot.stream.wait_event(self._last_compute.computed)  # shared context scratch memory
        ctx = self._context
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
            if self._graphs:  # the first run of a shape sets TensorRT up; capture the next ones

                def enqueue() -> None:
                    if not ctx.execute_async_v3(slot.stream.handle):
                        raise BackendError("TensorRT execute_async_v3 failed during capture")

                slot.graphs[key] = self._cuda.capture(slot.stream, enqueue)
        slot.computed.record(slot.stream)
        self._last_compute = slot

    def _abandon(self, slot: Slot) -> None:
        try:
            slot.stream.synchronize()
        except RestyleError:
            log.warning("stream error while abandoning a failed batch", exc_info=True)
        self._pool.release(slot)

    def _close_impl(self) -> None:
        try:
            self._pool.close()
        finally:
            del self._context
            del self._engine
            del self._runtime
