"""Mixed-precision FP16 ONNX: FP16 where it is fast and safe, FP32 where style networks need it.

Only the operators in :data:`FP16_OPS` (convolutions, activations, element-wise arithmetic, padding
and layout ops) run in FP16. Everything else keeps FP32 — InstanceNormalization above all (its
variance overflows or loses precision in FP16 and breaks style networks: onnxruntime #10079,
TensorRT #2691, torch2trt #776), Resize, every reduction, and the uint8 casts of the image I/O —
with Cast nodes at the borders. The model's inputs and outputs keep their types.

TensorRT 11 builds strongly typed networks only (no ``BuilderFlag.FP16``): such a file is what a
TensorRT FP16 engine is built from.

onnxconverter-common 1.16's ``convert_float_to_float16`` is not used: on the exported graphs it
changes the type recorded for the uint8→float Cast's output without changing the Cast, so
``onnx.checker`` rejects the result, and it rounds InstanceNorm's scale and bias through FP16.
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
from onnx import TensorProto, helper, numpy_helper

from restyle.errors import ConfigError, ExportError
from restyle.export.metadata import write_metadata
from restyle.export.verify import check_graph, ort_session
from restyle.modelinfo import IO_UINT8_NHWC, ModelInfo
from restyle.paths import atomic_output

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

#: Operators that run in FP16; all others keep FP32.
FP16_OPS = frozenset({
    "Add", "AveragePool", "Concat", "Conv", "ConvTranspose", "DepthToSpace", "Div", "Flatten",
    "HardSigmoid", "Identity", "LeakyRelu", "MaxPool", "Mul", "Neg", "Pad", "PRelu", "Relu",
    "Reshape", "Sigmoid", "Slice", "SpaceToDepth", "Squeeze", "Sub", "Tanh", "Transpose",
    "Unsqueeze",
})
#: Operators that accept any element type: they read whichever copy of a tensor exists.
_ANY_TYPE_OPS = frozenset({"Shape", "Size"})
#: The accuracy gate: least PSNR of the FP16 model against the FP32 one on real photos.
MIN_PSNR_DB = 40.0
_FP16_MAX = float(np.finfo(np.float16).max)


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type
             for v in (*g.input, *g.output, *g.value_info) if v.type.HasField("tensor_type")}
    types.update({t.name: t.data_type for t in g.initializer})
    return types


def convert_to_mixed_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of ``model`` whose :data:`FP16_OPS` nodes compute in FP16.

    FP32 initializers read only by FP16 nodes are stored in FP16 (halving the file); Cast nodes
    join the FP16 and FP32 parts. Graph inputs and outputs keep their types.

    Raises:
        ExportError: The graph has control flow (subgraphs), which this converter does not handle.

    Example:
        >>> mixed = convert_to_mixed_fp16(onnx.load("model.onnx"))  # doctest: +SKIP
    """
    for node in model.graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in node.attribute):
            raise ExportError(f"FP16 conversion does not support control flow ({node.op_type} "
                              f"node {node.name!r}): export FP32 instead")
    types = _elem_types(model)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    initializers = {t.name: t for t in graph.initializer}
    fp32_ready = {v.name for v in graph.input} | set(initializers)
    fp16_copy: dict[str, str] = {}
    new_inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    counter = 0

    def cast(src: str, dst: str, to: int) -> None:
        nonlocal counter
        counter += 1
        nodes.append(helper.make_node("Cast", [src], [dst], name=f"restyle_fp16_cast_{counter}",
                                      to=to))

    def as_fp16(name: str) -> str:
        if name not in fp16_copy:
            fp16_copy[name] = f"{name}__fp16"
            if name in initializers:
                values = numpy_helper.to_array(initializers[name])
                if np.abs(values).max(initial=0.0) > _FP16_MAX:
                    log.warning("initializer %s exceeds the FP16 range; clipped", name)
                half = np.clip(values, -_FP16_MAX, _FP16_MAX).astype(np.float16)
                new_inits.append(numpy_helper.from_array(half, fp16_copy[name]))
            else:
                cast(name, fp16_copy[name], TensorProto.FLOAT16)
        return fp16_copy[name]

    def as_fp32(name: str) -> str:
        if name not in fp32_ready and name in fp16_copy:
            cast(fp16_copy[name], name, TensorProto.FLOAT)
            fp32_ready.add(name)
        return name

    for node in model.graph.node:
        names = [n for n in (*node.input, *node.output) if n]
        is_float = {n: types.get(n) == TensorProto.FLOAT for n in names}
        known = all(n in types for n in names)
        if node.op_type in FP16_OPS and node.domain in ("", "ai.onnx") and known \
                and any(is_float.values()):
            new = onnx.NodeProto()
            new.CopyFrom(node)
            new.input[:] = [as_fp16(n) if n and is_float[n] else n for n in node.input]
            outputs = []
            for n in node.output:
                if n and is_float[n]:
                    fp16_copy[n] = f"{n}__fp16"
                    outputs.append(fp16_copy[n])
                else:
                    outputs.append(n)
            new.output[:] = outputs
            nodes.append(new)
            continue
        new = onnx.NodeProto()
        new.CopyFrom(node)
        if node.op_type in _ANY_TYPE_OPS:
            new.input[:] = [n if (not n or n in fp32_ready or n not in fp16_copy) else fp16_copy[n]
                            for n in node.input]
        else:
            new.input[:] = [as_fp32(n) if n and is_float.get(n) else n for n in node.input]
        fp32_ready.update(n for n in node.output if n)
        nodes.append(new)
    for value in graph.output:
        if types.get(value.name) == TensorProto.FLOAT:
            as_fp32(value.name)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {n for node in nodes for n in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend([*kept, *new_inits])
    del graph.value_info[:]
    try:
        return onnx.shape_inference.infer_shapes(out, strict_mode=True)
    except onnx.shape_inference.InferenceError as exc:
        raise ExportError(f"FP16 conversion produced an inconsistent graph: {exc}") from exc


@dataclass(frozen=True)
class Fp16Report:
    """PSNR of the FP16 model against the FP32 one, per photo, in dB."""

    psnr_db: dict[str, float]
    threshold_db: float

    @property
    def min_psnr_db(self) -> float:
        """The worst photo's PSNR."""
        return min(self.psnr_db.values(), default=math.inf)


def psnr(a: NDArray[np.generic], b: NDArray[np.generic], *, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio of two same-shape arrays in dB (``inf`` when equal).

    Example:
        >>> round(psnr(np.zeros(4), np.full(4, 2.55)), 1)
        40.0
    """
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


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
        write_metadata(mixed, replace(info, path="", precision="fp16"))
        onnx.save(mixed, str(tmp))
    return report
