"""The import's proof: the imported model against the source's own forward pass, on photos.

The photos are restyle's bundled samples resized to each check size (odd sizes included, so the
padding to the model's size multiple and the crop back are exercised). The source's forward pass
is a function ``uint8 [N, H, W, 3] → uint8 [N, H, W, 3]``: the original PyTorch module, or the
original ONNX graph in ONNX Runtime, with the source project's own value range.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from restyle._optional import require
from restyle.errors import ExportError

__all__ = ["DEFAULT_PHOTO_SIZES", "PhotoCheck", "compare_on_photos", "ort_session", "photos"]

log = logging.getLogger("restyle.export")

#: (height, width) of the photo checks: the zoo's 224, and two odd sizes.
DEFAULT_PHOTO_SIZES: tuple[tuple[int, int], ...] = ((224, 224), (333, 517), (97, 131))

Forward = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]


@dataclass(frozen=True)
class PhotoCheck:
    """The imported model against the source at one size."""

    size: tuple[int, int]
    max_diff: int
    """Largest difference in grey levels over every pixel and channel."""
    mean_diff: float
    seconds: float


def photos(size: tuple[int, int], count: int = 1) -> NDArray[np.uint8]:
    """``count`` bundled sample photos resized to ``size`` (height, width), as uint8 NHWC."""
    from restyle.samples import sample_photos

    paths = sample_photos()
    if not paths:  # pragma: no cover - the package ships them
        raise ExportError("restyle's sample photos are missing: reinstall restyle")
    h, w = size
    out = [np.asarray(Image.open(paths[i % len(paths)]).convert("RGB").resize(
        (w, h), Image.Resampling.BICUBIC), dtype=np.uint8) for i in range(count)]
    return np.stack(out)


def ort_session(model: Any | bytes) -> Any:
    """An ONNX Runtime CPU session on an in-memory model."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])


def compare_on_photos(
    imported: Any,
    source: Forward,
    *,
    sizes: Sequence[tuple[int, int]] = DEFAULT_PHOTO_SIZES,
    tolerance: int = 1,
    what: str = "the source",
) -> tuple[PhotoCheck, ...]:
    """Run ``imported`` (an ONNX model with restyle's uint8 I/O) in ONNX Runtime and ``source``
    on the same photos; every value must be within ``tolerance`` grey levels.

    Raises:
        ExportError: A size differs by more than ``tolerance`` (nothing is written then).
    """
    if not sizes:
        raise ExportError("give at least one photo size to check the import at")
    session = ort_session(imported)
    checks = []
    for size in sizes:
        start = time.monotonic()
        x = photos(size)
        ours = session.run(None, {"image": x})[0]
        theirs = source(x)
        if ours.shape != theirs.shape:
            raise ExportError(f"at {size[0]}×{size[1]} the imported model returns "
                              f"{list(ours.shape)} but {what} {list(theirs.shape)}")
        diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
        check = PhotoCheck(size=tuple(size), max_diff=int(diff.max()),  # type: ignore[arg-type]
                           mean_diff=float(diff.mean()), seconds=time.monotonic() - start)
        log.info("imported model vs %s on a %d×%d photo: max %d grey level(s) apart", what,
                 size[0], size[1], check.max_diff)
        if check.max_diff > tolerance:
            raise ExportError(
                f"the imported model and {what} disagree on a {size[0]}×{size[1]} photo: max "
                f"{check.max_diff} grey levels apart (tolerance {tolerance}); nothing was "
                "written. Report this with the file's origin"
            )
        checks.append(check)
    return tuple(checks)


def to_uint8(y: NDArray[np.floating[Any]]) -> NDArray[np.uint8]:
    """Round and clip 0–255 float values to uint8."""
    out: NDArray[np.uint8] = np.round(np.clip(y, 0.0, 255.0)).astype(np.uint8)
    return out


def pad_reflect(x: NDArray[Any], multiple: int, axes: tuple[int, int]) -> NDArray[Any]:
    """Reflect-pad ``x`` at the end of ``axes`` to multiples of ``multiple`` (as the graph does)."""
    widths = [(0, 0)] * x.ndim
    for axis in axes:
        widths[axis] = (0, (-x.shape[axis]) % multiple)
    return np.pad(x, widths, mode="reflect")
