"""``to_onnx``: a checkpoint or generator to a checked, self-describing ONNX file.

The chain (each step stops the export with a clear error, and nothing is left behind):
load → wrap with the uint8 image I/O → export (dynamo, opset 18, dynamic N/H/W) → ``onnx.checker``
→ ONNX Runtime against PyTorch on fresh random images → [FP16 conversion → checker → PSNR gate on
photos] → metadata → atomic write.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from restyle.errors import ConfigError
from restyle.export.fp16 import MIN_PSNR_DB, Fp16Report, convert_to_mixed_fp16, psnr_gate
from restyle.export.graph import DEFAULT_OPSET, export_graph
from restyle.export.metadata import write_metadata
from restyle.export.rewrite import fold_upsample_convs
from restyle.export.source import Source, load_source
from restyle.export.verify import (
    DEFAULT_CHECK_SHAPES,
    VerifyReport,
    check_graph,
    compare_with_torch,
)
from restyle.export.wrapper import ImageIO, io_names
from restyle.modelinfo import IO_UINT8_NHWC, ModelInfo
from restyle.paths import atomic_output

__all__ = ["ExportResult", "to_onnx"]

log = logging.getLogger("restyle.export")


@dataclass(frozen=True)
class ExportResult:
    """What :func:`to_onnx` wrote and measured."""

    path: Path
    info: ModelInfo
    exporter: str
    """``"dynamo"``, or ``"legacy"`` when the dynamo exporter failed (the reason was logged)."""
    nodes: int
    verification: VerifyReport
    fp16: Fp16Report | None
    size_bytes: int
    seconds: float


def to_onnx(
    source: Source,
    path: str | os.PathLike[str],
    *,
    fp16: bool = False,
    io: str = IO_UINT8_NHWC,
    style: str | None = None,
    description: str | None = None,
    attribution: str | None = None,
    license: str | None = None,
    train_size: int | None = None,
    size_multiple: int | None = None,
    check_shapes: Sequence[tuple[int, int, int]] = DEFAULT_CHECK_SHAPES,
    tolerance: int = 1,
    seed: int | None = None,
    min_psnr_db: float = MIN_PSNR_DB,
    opset: int = DEFAULT_OPSET,
    fold_upsampling: bool = True,
    progress: bool = False,
) -> ExportResult:
    """Export a generator to a checked, self-describing ONNX file.

    Args:
        source: A ``.safetensors`` checkpoint, a run folder (``restyle train --out``), a
            :class:`~restyle.training.checkpoint.LoadedGenerator` or a generator ``nn.Module``.
        path: The ``.onnx`` file to write (atomically).
        fp16: Write a mixed-precision model (InstanceNorm, Resize and reductions stay FP32),
            gated at ``min_psnr_db`` against the FP32 model on photos.
        io: ``"uint8_nhwc"`` (``image: uint8 [N, H, W, 3]`` → ``stylized``) or
            ``"float32_nchw"`` (``input: float32 [N, 3, H, W]`` in [0, 1] → ``output``).
        style: Style name; default: the checkpoint's (or the module's architecture).
        description: One line describing the style; default: the checkpoint's.
        attribution: Where the style image(s) came from; default: the checkpoint's.
        license: Licence of the model and its style images; default: the checkpoint's.
        train_size: Training crop size, for a bare module.
        size_multiple: For a bare module without a ``size_multiple`` attribute.
        check_shapes: (batch, height, width) at which ONNX Runtime must match PyTorch.
        tolerance: Largest difference allowed there, in grey levels.
        seed: Seed of the random check images (default: fresh).
        min_psnr_db: FP16 accuracy gate.
        opset: ONNX opset, 18 or newer.
        fold_upsampling: Export each nearest-upsample + 3×3-convolution pair as one transposed
            convolution (:mod:`restyle.export.rewrite`): the same function, 2.25× fewer
            multiply-adds in those layers, checked against the original module.
        progress: Show progress bars on standard error.

    Returns:
        The path, the model's metadata and the measurements.

    Raises:
        ModelFormatError: The checkpoint is missing, corrupt or of an unknown architecture.
        ConfigError: An argument is invalid (e.g. ``path`` is the checkpoint itself).
        ExportError: The exporter, the checker, the comparison or the FP16 gate failed.
        OutputError: ``path`` cannot be written.

    Example:
        >>> from restyle.export import to_onnx
        >>> result = to_onnx("runs/mosaic", "mosaic.onnx", fp16=True)  # doctest: +SKIP
        >>> result.info.precision, result.verification.max_diff <= 1  # doctest: +SKIP
        ('fp16', True)
    """
    start = time.monotonic()
    input_name, output_name = io_names(io)
    if not check_shapes or tolerance < 0:
        raise ConfigError("give at least one check shape and a tolerance ≥ 0: an export is only "
                          "written after ONNX Runtime has matched PyTorch")
    src = load_source(source, style=style, description=description, attribution=attribution,
                      license=license, train_size=train_size, size_multiple=size_multiple)
    target = Path(path)
    if src.checkpoint is not None and target.resolve() == src.checkpoint.resolve():
        raise ConfigError(f"{target} is the checkpoint being exported: choose another output path")
    with atomic_output(target) as tmp:
        wrapped = ImageIO(src.module, size_multiple=src.size_multiple, io=io).eval()
        exported = wrapped
        if fold_upsampling:
            generator, folded = fold_upsample_convs(src.module)
            log.info("folded %d upsample+convolution pair(s) into transposed convolutions", folded)
            exported = ImageIO(generator, size_multiple=src.size_multiple, io=io).eval()
        graph, exporter = export_graph(exported, opset=opset)
        check_graph(graph)
        report = compare_with_torch(graph, wrapped, shapes=check_shapes, tolerance=tolerance,
                                    seed=seed, progress=progress)
        final, fp16_report = graph, None
        if fp16:
            final = convert_to_mixed_fp16(graph)
            check_graph(final)
            fp16_report = psnr_gate(graph, final, io=io, min_psnr_db=min_psnr_db)
        info = replace(src.info, io=io, precision="fp16" if fp16 else "fp32",
                       input_name=input_name, output_name=output_name,
                       graph_rewrites="fold_upsampling" if fold_upsampling else "")
        write_metadata(final, info, shapes=src.shapes)
        onnx.save(final, str(tmp))
    size = target.stat().st_size
    result = ExportResult(
        path=target, info=replace(info, path=str(target)), exporter=exporter,
        nodes=len(final.graph.node), verification=report, fp16=fp16_report, size_bytes=size,
        seconds=time.monotonic() - start,
    )
    log.info("wrote %s (%s, %s, %d nodes, %.2f MB) in %.1f s", target, info.precision, exporter,
             result.nodes, size / 1e6, result.seconds)
    return result
