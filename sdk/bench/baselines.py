"""What a user would pick instead of restyle, each timed on the same model and input.

Every baseline is a callable factory: it builds the thing (outside the timing), and returns a
zero-argument function that runs one batch, plus a synchronise function for the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restyle._optional import require
from restyle.errors import BackendUnavailableError
from restyle.modelinfo import ModelInfo

__all__ = [
    "Runnable", "plain_onnxruntime", "plain_openvino", "random_frames", "torch_generator",
    "torch_runnable", "unfolded_export",
]

log = logging.getLogger("restyle.bench")


@dataclass(frozen=True)
class Runnable:
    """One batch of work, ready to time."""

    name: str
    run: Callable[[], object]
    synchronize: Callable[[], None] | None = None
    gpu_peak_bytes: Callable[[], int] | None = None
    timer: Callable[[Callable[[], object]], float] | None = None
    precision: str = "fp32"
    """What the runtime executes (read back where the runtime chooses, e.g. OpenVINO's bf16)."""


def random_frames(batch: int, height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """``batch`` random uint8 RGB frames as one ``N×H×W×3`` array (the input every benchmark
    times; iterate it for a list of frames)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(batch, height, width, 3), dtype=np.uint8)


def torch_generator(info: ModelInfo) -> Any:
    """The PyTorch module of the model's architecture (random weights: speed does not depend on
    them). Needs ``restyle[train]``."""
    require("torch", purpose="the PyTorch baselines")
    from restyle.training.models import create_model

    return create_model(info.arch, **info.arch_config).eval()


def torch_runnable(
    info: ModelInfo,
    *,
    batch: int,
    height: int,
    width: int,
    device: str = "cpu",
    fp16: bool = False,
    channels_last: bool = False,
    compile_model: bool = False,
) -> Runnable:
    """PyTorch eager (or ``torch.compile``) on a float32/FP16 NCHW tensor, as a user would run it.

    The input is already a tensor on the device: the baseline is not charged for conversions.
    """
    torch = require("torch", purpose="the PyTorch baselines")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError("PyTorch sees no CUDA device")
    model = torch_generator(info).to(device)
    mult = int(getattr(model, "size_multiple", 1))
    h, w = -(-height // mult) * mult, -(-width // mult) * mult
    dtype = torch.float16 if fp16 else torch.float32
    x = torch.rand(batch, 3, h, w, device=device, dtype=dtype)
    model = model.to(dtype=dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    fn = torch.compile(model) if compile_model else model

    def run() -> object:
        with torch.inference_mode():
            return fn(x)

    name = "torch " + ("compile" if compile_model else "eager") + (" fp16" if fp16 else " fp32")
    if channels_last:
        name += " channels-last"
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

        def cuda_event_timer(call: Callable[[], object]) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end)) / 1e3

        return Runnable(name, run, torch.cuda.synchronize,
                        lambda: int(torch.cuda.max_memory_allocated()), cuda_event_timer)
    return Runnable(name, run)


def plain_onnxruntime(path: Path, info: ModelInfo, *, batch: int, height: int,
                      width: int, label: str = "") -> Runnable:
    """``onnxruntime.InferenceSession(path)`` with default options, fed the uint8 batch."""
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {info.input_name: random_frames(batch, height, width)}
    return Runnable("plain onnxruntime" + label, lambda: session.run(None, feed))


def plain_openvino(path: Path, info: ModelInfo, *, batch: int, height: int,
                   width: int, label: str = "") -> Runnable:
    """``openvino.Core().compile_model(path, "CPU")`` with default options."""
    ov = require("openvino")
    from restyle.precision import graph_precision, openvino_executed

    compiled = ov.Core().compile_model(str(path), "CPU")
    frames = random_frames(batch, height, width)
    request = compiled.create_infer_request()
    precision = openvino_executed(compiled, graph_precision(path))[0]
    return Runnable("plain openvino" + label, lambda: request.infer({0: frames}),
                    precision=precision)


def unfolded_export(path: Path, folder: Path) -> Path:
    """The model re-exported *without* restyle's graph rewrites into ``folder``: the graph a plain
    ``torch.onnx.export`` of the generator gives, for the "used by hand" baselines. Needs
    ``restyle[train]``."""
    require("torch", purpose="the unfolded-export baselines")
    from restyle.export.chain import to_onnx

    out = folder / f"{path.stem}-unfolded.onnx"
    if not out.exists():
        to_onnx(path, out, fold_upsampling=False, check_shapes=[(1, 64, 64)])
    return out
