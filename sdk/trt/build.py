"""TensorRT engines from restyle ONNX files: one build path for TensorRT 10.x and 11.x.

This is runtime code (``restyle[gpu]`` alone builds an engine; ``onnx`` is needed only to convert
an FP32 file to FP16): the TensorRT backend and ``restyle export --trt`` both call it.

``build_engine`` parses the ONNX file into a strongly typed network (FP16 from a mixed-precision
ONNX, with InstanceNormalization kept FP32), adds one optimisation profile over batch and
resolution, a workspace limit, the builder optimisation level and a persistent timing cache, logs
progress during the build, and writes the engine, then its JSON sidecar (:mod:`.record`, with
the engine's sha256), then the merged timing cache (:mod:`.timing`). Without an explicit
``engine_path`` the engine goes to the private user cache, keyed by the ONNX file's sha256,
TensorRT version, GPU, compute capability, profile, precision, workspace, optimisation level and
FP16 converter version; a cached engine is reused only when its sidecar and hash match, and
rebuilt otherwise. The build runs on the CUDA device it is for.

Over 300 lines because the two public entry points share one record and cache logic and the
TensorRT callbacks (logger, progress monitor) that must live as long as the build.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from restyle._optional import require
from restyle.errors import ConfigError, DependencyError, EngineMismatchError, ExportError
from restyle.modelinfo import ModelInfo, read_model_info
from restyle.paths import atomic_output
from restyle.trt.record import (
    BuildProfile,
    BuildTarget,
    EngineRecord,
    Shape,
    cached_engine_path,
    check_engine,
    file_sha256,
    private_cache_dir,
    sidecar_path,
    write_sidecar,
)
from restyle.trt.target import (
    FP16_CONVERTER_VERSION,
    BuildPlan,
    detect_target,
    load_tensorrt,
    plan_build,
)
from restyle.trt.timing import load_timing_cache, save_timing_cache

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = [
    "DEFAULT_OPTIMIZATION_LEVEL",
    "DEFAULT_WORKSPACE_BYTES",
    "build_engine",
    "cached_engine",
    "timing_cache_path",
]

log = logging.getLogger("restyle.trt")

DEFAULT_WORKSPACE_BYTES = 4 << 30
DEFAULT_OPTIMIZATION_LEVEL = 3


def timing_cache_path(target: BuildTarget) -> Path:
    """The persistent timing cache for a TensorRT version and GPU, in the engine cache folder."""
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in
                   f"trt{target.tensorrt_version}-{target.gpu_name}-sm{target.compute_capability}")
    return private_cache_dir() / f"timing-{safe}.cache"


def _logger() -> trt.ILogger:
    """A TensorRT logger that forwards to ``logging`` (TensorRT's INFO is our DEBUG)."""
    import tensorrt as trt

    levels = {
        trt.ILogger.Severity.INTERNAL_ERROR: logging.ERROR,
        trt.ILogger.Severity.ERROR: logging.ERROR,
        trt.ILogger.Severity.WARNING: logging.WARNING,
        trt.ILogger.Severity.INFO: logging.DEBUG,
        trt.ILogger.Severity.VERBOSE: logging.DEBUG,
    }

    class _Forward(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
            log.log(levels.get(severity, logging.INFO), "TensorRT: %s", msg)

    return _Forward()


class _Progress:
    """Phase and step bookkeeping for the progress monitor (plain Python, thread-safe)."""

    def __init__(self, *, interval: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self._steps: dict[str, int] = {}
        self._last = 0.0
        self._interval = interval
        self.cancelled = False

    def start(self, phase: str, parent: str | None, steps: int) -> None:
        with self._lock:
            self._started[phase] = time.monotonic()
            self._steps[phase] = steps
        if parent is None:
            log.info("TensorRT build: %s (%d steps)", phase, steps)
        else:
            log.debug("TensorRT build: %s / %s (%d steps)", parent, phase, steps)

    def step(self, phase: str, step: int) -> bool:
        now = time.monotonic()
        with self._lock:
            due = now - self._last >= self._interval
            if due:
                self._last = now
            total = self._steps.get(phase, 0)
        if due:
            log.info("TensorRT build: %s step %d/%d", phase, step + 1, total)
        return not self.cancelled

    def finish(self, phase: str) -> None:
        with self._lock:
            began = self._started.pop(phase, time.monotonic())
        log.debug("TensorRT build: %s done in %.1f s", phase, time.monotonic() - began)


def _monitor(progress: _Progress) -> trt.IProgressMonitor:
    import tensorrt as trt

    class _Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str, num_steps: int) -> None:
            progress.start(phase_name, parent_phase or None, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            try:
                return progress.step(phase_name, step)
            except KeyboardInterrupt:  # Ctrl-C inside the callback: ask TensorRT to stop
                progress.cancelled = True
                return False

        def phase_finish(self, phase_name: str) -> None:
            progress.finish(phase_name)

    return _Monitor()


def _parse(network: trt.INetworkDefinition, logger: trt.ILogger, model: bytes,
           name: str) -> trt.OnnxParser:
    """Parse the model into ``network``. The parser owns the weights: keep it until the build."""
    import tensorrt as trt

    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse {name}: {errors or 'no reason given'}")
    return parser


def _build(
    model: bytes,
    *,
    name: str,
    info: ModelInfo,
    plan: BuildPlan,
    profile: BuildProfile,
    workspace_bytes: int,
    optimization_level: int,
    timing_cache: Path,
    version_compatible: bool,
) -> tuple[bytes, Callable[[], None]]:
    """Build the engine; returns it and a function that saves the build's timing cache (called
    after the engine is safely written)."""
    import tensorrt as trt

    # The logger, parser and progress monitor must outlive the build: keep them in locals.
    logger = _logger()
    builder = trt.Builder(logger)
    flags = 0
    strongly = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if plan.request_strong_typing_flag and strongly is not None:
        flags |= 1 << int(strongly)
    network = builder.create_network(flags)
    parser = _parse(network, logger, model, name)
    if network.num_inputs != 1 or network.get_input(0).name != info.input_name:
        raise ExportError(f"{name}: expected one input named {info.input_name!r}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    config.builder_optimization_level = optimization_level
    if version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    progress = _Progress()
    monitor = _monitor(progress)
    config.progress_monitor = monitor
    shapes = profile.tensor_shapes(info.io)
    optimization = builder.create_optimization_profile()
    optimization.set_shape(info.input_name, trt.Dims(list(shapes[0])), trt.Dims(list(shapes[1])),
                           trt.Dims(list(shapes[2])))
    config.add_optimization_profile(optimization)
    load_timing_cache(config, timing_cache)
    log.info("building a TensorRT %s engine for %s (shapes %s, workspace %.1f GiB, "
             "optimisation level %d)", plan.precision, name, profile.key(),
             workspace_bytes / (1 << 30), optimization_level)
    start = time.monotonic()
    serialized = builder.build_serialized_network(network, config)
    del parser, monitor  # the build is over: TensorRT no longer reads them
    if progress.cancelled:
        raise KeyboardInterrupt
    if serialized is None:
        raise ExportError(f"TensorRT could not build an engine for {name}: see the TensorRT "
                          "errors logged above (a larger workspace, --workspace-gib, may help)")
    log.info("engine built in %.1f s", time.monotonic() - start)
    engine: bytes = bytes(memoryview(serialized))

    def save_timings() -> None:
        keep = builder  # the config belongs to the builder: keep both alive until the save
        save_timing_cache(config, timing_cache)
        del keep

    return engine, save_timings


def _shape(value: Shape) -> Shape:
    n, h, w = (int(v) for v in value)
    return (n, h, w)


def _onnx_bytes(path: Path, plan: BuildPlan) -> bytes:
    if not plan.convert_to_fp16:
        return path.read_bytes()
    onnx = require("onnx", purpose="converting an FP32 model to FP16 for a TensorRT build (or "
                   "export an FP16 model with `restyle export --fp16` and build from that)")
    from restyle.trt.mixed_fp16 import convert_to_mixed_fp16

    log.info("converting %s to mixed-precision FP16 for the build", path)
    data: bytes = convert_to_mixed_fp16(onnx.load(str(path))).SerializeToString()
    return data


def _record(onnx_path: Path, *, profile: BuildProfile, fp16: bool, version_compatible: bool,
            device: int, workspace_bytes: int, optimization_level: int
            ) -> tuple[ModelInfo, BuildPlan, EngineRecord]:
    info = read_model_info(onnx_path)
    trt_module = load_tensorrt()
    target = detect_target(trt_module, device=device)
    plan = plan_build(target.tensorrt_version, fp16=fp16, onnx_precision=info.precision)
    record = EngineRecord(onnx_sha256=file_sha256(onnx_path), target=target, profile=profile,
                          precision=plan.precision, version_compatible=version_compatible,
                          workspace_bytes=workspace_bytes, optimization_level=optimization_level,
                          fp16_converter=FP16_CONVERTER_VERSION if plan.convert_to_fp16 else "")
    return info, plan, record


@contextmanager
def _on_device(device: int) -> Iterator[None]:
    """Make CUDA device ``device`` current for the build (TensorRT builds on the current one)."""
    from restyle.cuda import get_runtime

    try:
        runtime = get_runtime("auto", device=device)
    except DependencyError:
        if device != 0:
            raise
        yield  # no CUDA binding: the current device is CUDA's default, device 0
        return
    runtime.activate()
    try:
        yield
    finally:
        runtime.deactivate()


def cached_engine(
    onnx_path: str | os.PathLike[str],
    *,
    profile: BuildProfile | None = None,
    fp16: bool = True,
    version_compatible: bool = False,
    device: int = 0,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
) -> Path | None:
    """The cached engine for this ONNX file, machine, profile and precision, if a valid one exists.

    A cached engine whose sidecar does not match is reported (logged) and not returned.

    Raises:
        ModelFormatError: ``onnx_path`` is not a restyle model.
        DependencyError: TensorRT is not usable.
        BackendUnavailableError: No CUDA GPU is visible.
    """
    source = Path(onnx_path)
    wanted = profile if profile is not None else BuildProfile()
    _, _, record = _record(source, profile=wanted, fp16=fp16,
                           version_compatible=version_compatible, device=device,
                           workspace_bytes=workspace_bytes,
                           optimization_level=optimization_level)
    path = cached_engine_path(record, stem=source.stem)
    if not path.is_file():
        return None
    try:
        check_engine(path, target=record.target, onnx_sha256=record.onnx_sha256,
                     profile=record.profile, precision=record.precision)
    except EngineMismatchError as exc:
        log.warning("cached engine %s does not match (%s); it will be rebuilt", path, exc)
        return None
    return path


def build_engine(
    onnx_path: str | os.PathLike[str],
    *,
    engine_path: str | os.PathLike[str] | None = None,
    min_shape: Shape = (1, 256, 256),
    opt_shape: Shape = (4, 720, 1280),
    max_shape: Shape = (16, 1080, 1920),
    fp16: bool = True,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
    timing_cache: str | os.PathLike[str] | None = None,
    version_compatible: bool = False,
    device: int = 0,
) -> Path:
    """Build (or reuse from the cache) a TensorRT engine for a restyle ONNX file.

    Args:
        onnx_path: A model written by :func:`restyle.export.to_onnx` (FP32 or FP16).
        engine_path: Where to write the engine (its sidecar goes beside it). ``None``: the user
            engine cache, reusing a matching engine built before.
        min_shape: Smallest (batch, height, width) of the uint8 NHWC input.
        opt_shape: The (batch, height, width) TensorRT tunes for.
        max_shape: Largest (batch, height, width).
        fp16: Build an FP16 engine (from the mixed-precision ONNX, converted in memory when the
            file is FP32). A mixed-precision file always gives an FP16 engine.
        workspace_bytes: Workspace memory limit for the builder.
        optimization_level: Builder optimisation level, 0–5 (higher: slower build, maybe faster
            engine).
        timing_cache: Persistent timing cache file; default: one per TensorRT version and GPU in
            the engine cache folder.
        version_compatible: Build with ``BuilderFlag.VERSION_COMPATIBLE`` (runs on later TensorRT
            releases of the same major version, a little slower).
        device: CUDA device to build for.

    Returns:
        The engine path.

    Raises:
        ModelFormatError: ``onnx_path`` is missing or not a restyle model.
        ConfigError: Bad shapes, workspace or optimisation level, or ``engine_path`` is the ONNX
            file.
        DependencyError: TensorRT (10 or 11) is not installed.
        BackendUnavailableError: No CUDA GPU is visible.
        ExportError: TensorRT cannot parse the model or build the engine.
        OutputError: The engine cannot be written.

    Example:
        >>> from restyle.trt import build_engine
        >>> build_engine("mosaic.onnx", max_shape=(8, 1080, 1920))  # doctest: +SKIP
        PosixPath('/home/me/.cache/restyle/engines/mosaic-fp16-1c0ffee....engine')
    """
    profile = BuildProfile(min=_shape(min_shape), opt=_shape(opt_shape), max=_shape(max_shape))
    if workspace_bytes < 1 << 20:
        raise ConfigError(f"workspace_bytes={workspace_bytes} is too small: give at least 1 MiB")
    if not 0 <= optimization_level <= 5:
        raise ConfigError(f"optimization_level must be 0–5, got {optimization_level}")
    source = Path(onnx_path)
    info, plan, record = _record(source, profile=profile, fp16=fp16,
                                 version_compatible=version_compatible, device=device,
                                 workspace_bytes=workspace_bytes,
                                 optimization_level=optimization_level)
    if engine_path is None:
        target_path = cached_engine_path(record, stem=source.stem)
        if target_path.is_file():
            try:
                check_engine(target_path, target=record.target, onnx_sha256=record.onnx_sha256,
                             profile=profile, precision=record.precision)
                log.info("using the cached engine %s", target_path)
                return target_path
            except EngineMismatchError as exc:
                log.warning("rebuilding the cached engine %s: %s", target_path, exc)
    else:
        target_path = Path(engine_path)
        if target_path.exists() and target_path.resolve() == source.resolve():
            raise ConfigError(f"{engine_path} is the ONNX file: write the engine to another path")
    cache = Path(timing_cache) if timing_cache is not None else timing_cache_path(record.target)
    with _on_device(device):
        serialized, save_timings = _build(
            _onnx_bytes(source, plan), name=str(source), info=info, plan=plan, profile=profile,
            workspace_bytes=workspace_bytes, optimization_level=optimization_level,
            timing_cache=cache, version_compatible=version_compatible,
        )
    sidecar_path(target_path).unlink(missing_ok=True)  # never pair a new engine with an old record
    with atomic_output(target_path) as tmp:
        tmp.write_bytes(serialized)
    write_sidecar(target_path, record)
    log.info("wrote %s (%.1f MB, %s)", target_path, len(serialized) / 1e6, record.target.describe())
    save_timings()  # last: a failure here is logged and loses nothing
    return target_path
