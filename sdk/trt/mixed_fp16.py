"""Mixed-precision FP16 ONNX: FP16 where it is fast and safe, FP32 where style networks need it.

Only the operators in :data:`FP16_OPS` (convolutions, activations, element-wise arithmetic, padding
and layout ops) run in FP16. Everything else keeps FP32 — InstanceNormalization above all (its
variance overflows or loses precision in FP16 and breaks style networks: onnxruntime #10079,
TensorRT #2691, torch2trt #776), Resize, every reduction, and the uint8 casts of the image I/O —
with Cast nodes at the borders. The model's inputs and outputs keep their types.

TensorRT 11 builds strongly typed networks only (no ``BuilderFlag.FP16``): such a network is what
a TensorRT FP16 engine is built from, so this converter is runtime code (it needs ``onnx``);
``restyle.export.fp16`` adds the accuracy gate and file output on top. Any change to what it
produces must bump :data:`restyle.trt.target.FP16_CONVERTER_VERSION`.

onnxconverter-common 1.16's ``convert_float_to_float16`` is not used: on the exported graphs it
changes the type recorded for the uint8→float Cast's output without changing the Cast, so
``onnx.checker`` rejects the result, and it rounds InstanceNorm's scale and bias through FP16.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from restyle.errors import ExportError

__all__ = ["FP16_OPS", "convert_to_mixed_fp16"]

log = logging.getLogger("restyle.trt")

#: Operators that run in FP16; all others keep FP32.
FP16_OPS = frozenset({
    "Add", "AveragePool", "Concat", "Conv", "ConvTranspose", "DepthToSpace", "Div", "Flatten",
    "HardSigmoid", "Identity", "LeakyRelu", "MaxPool", "Mul", "Neg", "Pad", "PRelu", "Relu",
    "Reshape", "Sigmoid", "Slice", "SpaceToDepth", "Squeeze", "Sub", "Tanh", "Transpose",
    "Unsqueeze",
})
#: Operators that accept any element type: they read whichever copy of a tensor exists.
_ANY_TYPE_OPS = frozenset({"Shape", "Size"})
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
