"""onnx/models ``fast_neural_style`` files (``mosaic-9.onnx``, ``candy-8.onnx`` …).

The zoo exported pytorch/examples' ``TransformerNet`` at opset 8 and 9: ``input1`` (float32
``[1, 3, 224, 224]``, 0–255) → ``output1`` (unclamped), reflection ``Pad`` → ``Conv`` →
``InstanceNormalization`` units and ``Upsample``. The import frees the fixed size, upgrades the
graph to opset 18 (``Upsample`` → ``Resize``, which TensorRT 10 parses), folds each nearest ×2
upsample + 3×3 convolution into one transposed convolution, and wraps restyle's uint8 I/O around
it with the reflect-padding to a multiple of 4 inside.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from numpy.typing import NDArray

from restyle.export.importers.check import Forward, ort_session, pad_reflect, to_uint8
from restyle.export.importers.graph import (
    fold_upsample_convs,
    free_sizes,
    opset_of,
    upgrade,
    wrap_image_io,
)
from restyle.export.importers.registry import Detection, register_importer

__all__ = ["OnnxZooStyleImporter", "graph_io", "size_multiple"]


def graph_io(model: Any) -> tuple[Any, Any] | None:
    """The one real input and one output of an image graph, else None."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        return None
    return inputs[0], model.graph.output[0]


def dims(value: Any) -> list[int | str]:
    """A value's dims: ints where fixed, names (or ``"?"``) where not."""
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in value.type.tensor_type.shape.dim]


def size_multiple(model: Any) -> int:
    """2 to the number of stride-2 convolutions: the side multiple the graph needs."""
    from onnx import helper

    count = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            strides = next((list(helper.get_attribute_value(a)) for a in node.attribute
                            if a.name == "strides"), [1, 1])
            count += int(strides == [2, 2])
    return int(2 ** count)


def reference(original: Any, *, layout: str, multiple: int, scale: float, offset: float,
              out_scale: float, out_offset: float) -> Forward:
    """The original graph in ONNX Runtime as ``uint8 NHWC → uint8 NHWC``: the source project's
    value range, reflect-padded to ``multiple`` and cropped back; inputs of the original's own
    fixed shape run on the untouched original, others on a copy with its sizes freed."""
    fixed = ort_session(original)
    fixed_shape = tuple(fixed.get_inputs()[0].shape)
    freed_model = copy.deepcopy(original)
    free_sizes(freed_model, layout=layout)
    freed = ort_session(freed_model)
    name = fixed.get_inputs()[0].name

    def forward(x: NDArray[np.uint8]) -> NDArray[np.uint8]:
        t = x.astype(np.float32)
        if layout == "NCHW":
            t = t.transpose(0, 3, 1, 2)
        t = t * np.float32(scale) + np.float32(offset)
        h, w = x.shape[1:3]
        axes = (2, 3) if layout == "NCHW" else (1, 2)
        t = np.ascontiguousarray(pad_reflect(t, multiple, axes), dtype=np.float32)
        session = fixed if tuple(t.shape) == fixed_shape else freed
        y = session.run(None, {name: t})[0]
        y = y[:, :, :h, :w] if layout == "NCHW" else y[:, :h, :w, :]
        if layout == "NCHW":
            y = y.transpose(0, 2, 3, 1)
        return to_uint8(y * out_scale + out_offset)

    return forward


@register_importer("onnx_fast_neural_style", kind="onnx",
                   title="onnx/models fast_neural_style ONNX (pytorch/examples TransformerNet)")
class OnnxZooStyleImporter:
    """Recognises an NCHW RGB graph with InstanceNormalization and nearest upsampling."""

    def detect(self, model: Any) -> Detection | None:
        io = graph_io(model)
        if io is None:
            return None
        shape_in, shape_out = dims(io[0]), dims(io[1])
        ops = {n.op_type for n in model.graph.node}
        if len(shape_in) != 4 or shape_in[1] != 3 or len(shape_out) != 4 or \
                "InstanceNormalization" not in ops or not ops & {"Upsample", "Resize"}:
            return None
        fixed = "×".join(str(d) for d in shape_in)
        return Detection(
            "onnx_fast_neural_style",
            f"onnx/models fast_neural_style graph, opset {opset_of(model)}, {io[0].name} "
            f"[{fixed}] → {io[1].name} (0–255 NCHW in, unclamped out)",
            {"opset": opset_of(model), "input": io[0].name, "input_shape": shape_in})

    def convert(self, model: Any, detection: Detection, *, fold: bool) -> tuple[Any, int,
                                                                                   Forward]:
        """The restyle graph, how many pairs were folded, and the original's forward pass."""
        multiple = size_multiple(model)
        graph = copy.deepcopy(model)
        free_sizes(graph, layout="NCHW")
        graph = upgrade(graph)
        folded = fold_upsample_convs(graph) if fold else 0
        wrapped = wrap_image_io(graph, layout="NCHW", in_scale=1.0, in_offset=0.0,
                                out_scale=1.0, out_offset=0.0, multiple=multiple)
        ref = reference(model, layout="NCHW", multiple=multiple, scale=1.0, offset=0.0,
                        out_scale=1.0, out_offset=0.0)
        return wrapped, folded, ref
