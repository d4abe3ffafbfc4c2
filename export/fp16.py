"""Mixed-precision FP16 ONNX files with an accuracy gate.

The conversion itself (which operators run in FP16, InstanceNormalization kept FP32) lives in the
runtime, :mod:`restyle.trt.mixed_fp16`, because TensorRT FP16 builds need it too; this module adds
the PSNR gate on real photos and writes the file with its metadata.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
from numpy.typing import NDArray

from restyle.errors import ConfigError, ExportError
from restyle.export.metadata import shapes_of, write_metadata
from restyle.export.verify import check_graph, ort_session
from restyle.modelinfo import IO_UINT8_NHWC, ModelInfo
from restyle.paths import atomic_output
from restyle.precision import psnr
from restyle.trt.mixed_fp16 import FP16_OPS, convert_to_mixed_fp16

__all__ = [
    "FP16_OPS",
    "MIN_PSNR_DB",
    "Fp16Report",
    "convert_to_mixed_fp16",
    "psnr",
    "psnr_gate",
    "sample_images",
    "to_fp16",
]

log = logging.getLogger("restyle.export")

#: The accuracy gate: least PSNR of the FP16 model against the FP32 one on real photos.
MIN_PSNR_DB = 40.0


@dataclass(frozen=True)
class Fp16Report:
    """PSNR of the FP16 model against the FP32 one, per photo, in dB."""

    psnr_db: dict[str, float]
    threshold_db: float

    @property
    def min_psnr_db(self) -> float:
        """The worst photo's PSNR."""
        return min(self.psnr_db.values(), default=math.inf)


def sample_images() -> dict[str, NDArray[np.uint8]]:
    """restyle's bundled public-domain photos (astronaut, chelsea, coffee, rocket) as uint8 RGB."""
    from PIL import Image

    from restyle.samples import sample_photos

    images = {}
    for path in sample_photos():
        with Image.open(path) as img:
            images[path.stem] = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if not images:
        raise ExportError("restyle's sample photos are missing: reinstall restyle")
    return images


def psnr_gate(
    fp32: onnx.ModelProto,
    fp16: onnx.ModelProto,
    *,
    io: str = IO_UINT8_NHWC,
    images: dict[str, NDArray[np.uint8]] | None = None,
    min_psnr_db: float = MIN_PSNR_DB,
) -> Fp16Report:
    """Compare the FP16 model's outputs with the FP32 model's on real photos (ONNX Runtime CPU).

    Args:
        fp32: The FP32 model.
        fp16: Its mixed-precision conversion.
        io: The models' I/O layout.
        images: Name → uint8 RGB ``H×W×3``; default :func:`sample_images`.
        min_psnr_db: The least PSNR every photo must reach.

    Returns:
        The PSNR per photo.

    Raises:
        ExportError: A photo falls below ``min_psnr_db``.
    """
    photos = sample_images() if images is None else images
    s32, s16 = ort_session(fp32), ort_session(fp16)
    name = s32.get_inputs()[0].name
    results = {}
    for key, photo in photos.items():
        if io == IO_UINT8_NHWC:
            x: NDArray[np.generic] = photo[None]
            scale = 1.0
        else:
            x = (photo.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy()
            scale = 255.0
        a = s32.run(None, {name: x})[0].astype(np.float64) * scale
        b = s16.run(None, {name: x})[0].astype(np.float64) * scale
        results[key] = psnr(a, b)
    report = Fp16Report(psnr_db=results, threshold_db=min_psnr_db)
    shown = ", ".join(f"{k} {v:.1f} dB" for k, v in results.items())
    log.info("FP16 against FP32 on photos: %s", shown)
    if report.min_psnr_db < min_psnr_db:
        raise ExportError(
            f"the FP16 model is too far from the FP32 one ({shown}; at least {min_psnr_db:.0f} dB "
            "needed): this network does not tolerate FP16 — use the FP32 export"
        )
    return report


def to_fp16(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    min_psnr_db: float = MIN_PSNR_DB,
    images: dict[str, NDArray[np.uint8]] | None = None,
) -> Fp16Report:
    """Convert an FP32 restyle ONNX file to a checked mixed-precision FP16 one.

    Args:
        src: An FP32 model written by :func:`restyle.export.to_onnx`.
        dst: The FP16 file to write (atomically; nothing is left on failure). Not ``src``.
        min_psnr_db: Accuracy gate against the FP32 model on photos.
        images: Photos for the gate; default: restyle's sample photos.

    Returns:
        The PSNR per photo.

    Raises:
        ModelFormatError: ``src`` is not a restyle model.
        ConfigError: ``src`` is already FP16, or ``dst`` is ``src``.
        ExportError: The checker or the accuracy gate failed.
        OutputError: ``dst`` cannot be written.

    Example:
        >>> to_fp16("mosaic.onnx", "mosaic-fp16.onnx").min_psnr_db > 40  # doctest: +SKIP
        True
    """
    from restyle.export.inspection import inspect

    info: ModelInfo = inspect(src)
    if info.precision != "fp32":
        raise ConfigError(f"{src} is already {info.precision}: convert an FP32 export")
    target = Path(dst)
    if target.exists() and target.resolve() == Path(src).resolve():
        raise ConfigError(f"{dst} is the input file: write the FP16 model to another path")
    with atomic_output(target) as tmp:
        model = onnx.load(str(src))
        mixed = convert_to_mixed_fp16(model)
        check_graph(mixed)
        report = psnr_gate(model, mixed, io=info.io, images=images, min_psnr_db=min_psnr_db)
        write_metadata(mixed, replace(info, path="", precision="fp16"), shapes=shapes_of(model))
        onnx.save(mixed, str(tmp))
    return report
