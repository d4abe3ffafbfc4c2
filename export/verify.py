"""Checked export: the ONNX checker, then ONNX Runtime against PyTorch on fresh random images."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import torch
from numpy.typing import NDArray

from restyle._optional import require
from restyle.errors import ExportError
from restyle.export.wrapper import ImageIO
from restyle.modelinfo import IO_UINT8_NHWC
from restyle.progress import Progress
from restyle.trt.record import parse_shape

__all__ = [
    "DEFAULT_CHECK_SHAPES",
    "ShapeCheck",
    "VerifyReport",
    "check_graph",
    "compare_with_torch",
    "ort_session",
    "parse_shapes",
]

log = logging.getLogger("restyle.export")

#: (batch, height, width) the export is checked at: batch 1 and 3 at three sizes, one of them not
#: a multiple of anything.
DEFAULT_CHECK_SHAPES: tuple[tuple[int, int, int], ...] = tuple(
    (n, h, w) for h, w in ((64, 64), (333, 517), (720, 1280)) for n in (1, 3)
)


@dataclass(frozen=True)
class ShapeCheck:
    """ONNX Runtime against PyTorch at one input shape."""

    shape: tuple[int, int, int]
    max_diff: int
    """Largest difference in grey levels (0–255) over every pixel and channel."""
    mismatched: int
    """Values more than the tolerance apart."""
    seconds: float


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`compare_with_torch`."""

    checks: tuple[ShapeCheck, ...]
    tolerance: int
    seed: int

    @property
    def max_diff(self) -> int:
        """The largest difference in grey levels over all shapes."""
        return max((c.max_diff for c in self.checks), default=0)


def parse_shapes(text: str) -> tuple[tuple[int, int, int], ...]:
    """Parse ``"1x64x64,3x333x517"`` into ``((1, 64, 64), (3, 333, 517))``.

    Raises:
        ConfigError: Not a comma-separated list of ``NxHxW`` with positive integers.

    Example:
        >>> parse_shapes("1x64x64, 3x333x517")
        ((1, 64, 64), (3, 333, 517))
    """
    return tuple(parse_shape(part) for part in text.split(","))


def check_graph(model: onnx.ModelProto) -> None:
    """Run ``onnx.checker`` with the full check (shape inference included).

    Raises:
        ExportError: The graph is invalid.
    """
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"the exported ONNX graph is invalid: {exc}") from exc


def ort_session(model: onnx.ModelProto | bytes, *, threads: int = 0) -> Any:
    """An ONNX Runtime CPU session on an in-memory model (``threads=0``: ORT's default)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: its warnings are about ORT's own optimiser
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


def _random_input(io: str, shape: tuple[int, int, int], rng: np.random.Generator) -> NDArray[
    np.generic
]:
    n, h, w = shape
    if io == IO_UINT8_NHWC:
        return rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)
    return rng.random((n, 3, h, w), dtype=np.float32)


def _grey_levels(array: NDArray[np.generic], io: str) -> NDArray[np.float64]:
    values = array.astype(np.float64)
    return values if io == IO_UINT8_NHWC else values * 255.0


def compare_with_torch(
    model: onnx.ModelProto,
    reference: ImageIO,
    *,
    shapes: Sequence[tuple[int, int, int]] = DEFAULT_CHECK_SHAPES,
    tolerance: int = 1,
    seed: int | None = None,
    progress: bool = False,
) -> VerifyReport:
    """Run the ONNX graph with ONNX Runtime and ``reference`` with PyTorch on the same random
    images; every output value must be within ``tolerance`` grey levels.

    Args:
        model: The exported graph.
        reference: The PyTorch module it was exported from, in eval mode.
        shapes: (batch, height, width) to test.
        tolerance: Largest difference allowed, in grey levels (0–255).
        seed: Seed of the random images; ``None`` draws a fresh one (logged, and named in errors).
        progress: Show a progress bar over the shapes.

    Returns:
        The differences found at each shape.

    Raises:
        ExportError: A shape's outputs differ by more than ``tolerance`` or have another shape.

    Example:
        >>> report = compare_with_torch(graph, wrapped, shapes=[(1, 64, 64)])  # doctest: +SKIP
        >>> report.max_diff <= 1  # doctest: +SKIP
        True
    """
    seed = secrets.randbits(32) if seed is None else seed
    rng = np.random.default_rng(seed)
    session = ort_session(model)
    input_name = session.get_inputs()[0].name
    checks = []
    with Progress(len(shapes), desc="verifying", unit="shape", enabled=progress) as bar:
        for shape in shapes:
            start = time.monotonic()
            x = _random_input(reference.io, shape, rng)
            ours = session.run(None, {input_name: x})[0]
            with torch.inference_mode():
                expected = reference(torch.from_numpy(x)).numpy()
            if ours.shape != expected.shape or ours.dtype != expected.dtype:
                raise ExportError(
                    f"at input {shape} ONNX Runtime returns {ours.dtype}{list(ours.shape)} but "
                    f"PyTorch {expected.dtype}{list(expected.shape)}: the exported graph is wrong "
                    f"(seed {seed})"
                )
            if not (np.isfinite(ours).all() and np.isfinite(expected).all()):
                raise ExportError(
                    f"at input {shape} the model returns NaN or infinite values: its weights are "
                    f"broken; export an earlier checkpoint (seed {seed})"
                )
            diff = np.abs(_grey_levels(ours, reference.io) - _grey_levels(expected, reference.io))
            check = ShapeCheck(shape=shape, max_diff=int(np.ceil(diff.max() - 1e-6)),
                               mismatched=int((diff > tolerance + 1e-6).sum()),
                               seconds=time.monotonic() - start)
            log.info("ONNX Runtime vs PyTorch at %s: max %d grey level(s) apart", shape,
                     check.max_diff)
            if check.mismatched:
                raise ExportError(
                    f"ONNX Runtime and PyTorch disagree at input {shape}: {check.mismatched} "
                    f"values more than {tolerance} grey level(s) apart (max {check.max_diff}; "
                    f"seed {seed}). The export is not faithful, so no file was written; "
                    "report this with the model's architecture"
                )
            checks.append(check)
            bar.update(1)
    return VerifyReport(checks=tuple(checks), tolerance=tolerance, seed=seed)
