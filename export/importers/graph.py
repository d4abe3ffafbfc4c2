"""ONNX graph surgery for imported models, in onnx and numpy only (no torch).

* :func:`upgrade` brings an old graph (opset 8/9 ``Upsample``) to an opset TensorRT 10 parses
  (``Resize``), with ``onnx.version_converter``;
* :func:`free_sizes` makes a fixed-size graph (the zoo's 1×3×224×224) take any batch and size;
* :func:`fold_upsample_convs` is :mod:`restyle.export.rewrite`'s exact fold done on a graph:
  ``Resize(nearest, ×2) → Pad(reflect, 1) → Conv(3×3)`` becomes ``Pad(edge, 1) →
  ConvTranspose(4×4, stride 2)``, 2.25× fewer multiply-adds in those layers;
* :func:`wrap_image_io` puts restyle's image I/O around the graph as nodes: ``image: uint8
  [N, H, W, 3]`` in, ``stylized`` out, with the model's value range, reflect-padding to its size
  multiple and the crop back inside the graph.

Why over 300 lines: the graph surgery an imported ONNX needs (opset upgrade, freeing the fixed
size, the exact upsample fold done on the graph, the image I/O) shares its node helpers; split, each
part would import the others'.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restyle._optional import require
from restyle.errors import ExportError

__all__ = ["IMPORT_OPSET", "const_value", "fold_upsample_convs", "free_sizes", "opset_of",
           "upgrade", "wrap_image_io"]

#: Opset imported graphs are brought to (``Resize`` instead of ``Upsample``; TensorRT 10 parses it).
IMPORT_OPSET = 18

# Rows: transposed-kernel taps 0..3; columns: a 3×3 kernel's taps along one axis (rewrite.py).
_TAPS = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def opset_of(model: Any) -> int:
    """The model's default-domain opset."""
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def upgrade(model: Any, opset: int = IMPORT_OPSET) -> Any:
    """``model`` converted to ``opset`` (unchanged when it is already that new).

    Raises:
        ExportError: The converter cannot convert it.
    """
    if opset_of(model) >= opset:
        return model
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, opset)
    except Exception as exc:  # the converter raises RuntimeError / ConvertError
        raise ExportError(f"cannot upgrade the graph from opset {opset_of(model)} to {opset} "
                          f"({exc})") from exc


def const_value(model: Any, name: str) -> np.ndarray | None:
    """The value of ``name`` when it is an initializer or a ``Constant`` node's output."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return np.asarray(numpy_helper.to_array(init))
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            for attr in node.attribute:
                if attr.name == "value":
                    return np.asarray(numpy_helper.to_array(attr.t))
    return None


def free_sizes(model: Any, *, layout: str) -> None:
    """Make every dimension of the input and output symbolic but the channels, in place.

    Weights listed as graph inputs too (IR 3 files) stop being inputs (IR 4 and newer).

    Args:
        model: A single-input, single-output image graph.
        layout: ``"NCHW"`` or ``"NHWC"``.
    """
    inits = {i.name for i in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(real)
    model.ir_version = max(model.ir_version, 4)
    names = ("batch", None, "height", "width") if layout == "NCHW" else (
        "batch", "height", "width", None)
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        for dim, name in zip(dims, names, strict=False):
            if name is not None:
                dim.Clear()
                dim.dim_param = name
    del model.graph.value_info[:]


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _consumers(model: Any, name: str) -> list[Any]:
    return [n for n in model.graph.node if name in n.input]


def _is_nearest_x2(model: Any, node: Any) -> bool:
    if node.op_type != "Resize" or _text(_attr(node, "mode", b"nearest")) != "nearest":
        return False
    scales = const_value(model, node.input[2]) if len(node.input) > 2 and node.input[2] else None
    return scales is not None and scales.tolist() == [1.0, 1.0, 2.0, 2.0]


def _pad_by_one(model: Any, node: Any) -> str | None:
    """``"reflect"``/``"edge"``/``"constant"`` for a 1-pixel spatial Pad with zero fill."""
    if node.op_type != "Pad" or len(node.input) < 2:
        return None
    pads = const_value(model, node.input[1])
    if pads is None or pads.tolist() != [0, 0, 1, 1, 0, 0, 1, 1]:
        return None
    if len(node.input) > 2 and node.input[2]:
        fill = const_value(model, node.input[2])
        if fill is None or float(np.asarray(fill).reshape(-1)[0]) != 0.0:
            return None
    if len(node.input) > 3 and node.input[3]:
        return None
    return _text(_attr(node, "mode", b"constant"))


def _plain_3x3(model: Any, node: Any) -> bool:
    if node.op_type != "Conv" or int(_attr(node, "group", 1)) != 1:
        return False
    weight = const_value(model, node.input[1])
    return (weight is not None and weight.ndim == 4 and weight.shape[2:] == (3, 3)
            and list(_attr(node, "strides", [1, 1])) == [1, 1]
            and list(_attr(node, "dilations", [1, 1])) == [1, 1]
            and list(_attr(node, "pads", [0, 0, 0, 0])) == [0, 0, 0, 0]
            and _text(_attr(node, "auto_pad", b"NOTSET")) == "NOTSET")


def fold_kernel(weight: np.ndarray) -> np.ndarray:
    """The ``(I, O, 4, 4)`` transposed kernel of an ``(O, I, 3, 3)`` conv after a nearest ×2
    upsampling (numpy twin of :func:`restyle.export.rewrite.fold_kernel`)."""
    taps = _TAPS.astype(np.float64)
    folded = np.einsum("pk,oikl,ql->iopq", taps, weight.astype(np.float64), taps)
    return np.ascontiguousarray(folded, dtype=np.float32)


def fold_upsample_convs(model: Any) -> int:
    """Fold each ``Resize(nearest ×2) → Pad(reflect|edge, 1) → Conv(3×3)`` chain, in place.

    Returns:
        How many chains were folded.
    """
    from onnx import helper, numpy_helper

    folded = 0
    for resize in [n for n in model.graph.node if _is_nearest_x2(model, n)]:
        users = _consumers(model, resize.output[0])
        if len(users) != 1 or _pad_by_one(model, users[0]) not in ("reflect", "edge"):
            continue
        pad = users[0]
        convs = _consumers(model, pad.output[0])
        if len(convs) != 1 or not _plain_3x3(model, convs[0]):
            continue
        conv = convs[0]
        weight = const_value(model, conv.input[1])
        if weight is None:
            continue
        tag = f"restyle_fold{folded}"
        inits = [numpy_helper.from_array(fold_kernel(weight), f"{tag}_w"),
                 numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
                                         f"{tag}_pads")]
        inputs = [f"{tag}_padded", f"{tag}_w"]
        if len(conv.input) > 2 and conv.input[2]:
            inputs.append(conv.input[2])
        new_pad = helper.make_node("Pad", [resize.input[0], f"{tag}_pads"], [f"{tag}_padded"],
                                   mode="edge", name=f"{tag}_pad")
        deconv = helper.make_node("ConvTranspose", inputs, list(conv.output), name=f"{tag}_conv",
                                  kernel_shape=[4, 4], strides=[2, 2], pads=[3, 3, 3, 3])
        nodes = list(model.graph.node)
        at = nodes.index(resize)
        for old in (resize, pad, conv):
            nodes.remove(old)
        nodes[at:at] = [new_pad, deconv]
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        model.graph.initializer.extend(inits)
        folded += 1
    _drop_unused(model)
    return folded


def _drop_unused(model: Any) -> None:
    """Remove initializers and Constant nodes nothing reads any more."""
    while True:
        used = {i for n in model.graph.node for i in n.input} | {
            o.name for o in model.graph.output}
        dead = [n for n in model.graph.node
                if n.op_type == "Constant" and n.output[0] not in used]
        for n in dead:
            model.graph.node.remove(n)
        keep = [i for i in model.graph.initializer if i.name in used]
        changed = len(keep) != len(model.graph.initializer)
        if changed:
            del model.graph.initializer[:]
            model.graph.initializer.extend(keep)
        if not dead and not changed:
            return


def wrap_image_io(
    model: Any,
    *,
    layout: str,
    in_scale: float,
    in_offset: float,
    out_scale: float,
    out_offset: float,
    multiple: int,
) -> Any:
    """A new model: ``image: uint8 [N, H, W, 3]`` → ``model`` → ``stylized: uint8 [N, H, W, 3]``.

    The model sees ``image * in_scale + in_offset`` (float32, in ``layout``), reflect-padded at
    the bottom and right to multiples of ``multiple``; its output is cropped back to ``H × W``
    and turned into ``round(clip(y * out_scale + out_offset, 0, 255))``.

    Raises:
        ExportError: ``model`` has not exactly one input and one output.
    """
    onnx = require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    init_names = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in init_names]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ExportError(f"an image model has one input and one output; this graph has "
                          f"{len(inputs)} and {len(g.output)}")
    x_name, y_name = inputs[0].name, g.output[0].name
    nchw = layout == "NCHW"
    h_axis, w_axis = (2, 3) if nchw else (1, 2)
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, f"restyle_{name}"))
        return f"restyle_{name}"

    def node(op: str, ins: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, ins, [f"restyle_{out}"], name=f"restyle_{out}",
                                      **attrs))
        return f"restyle_{out}"

    cur = node("Cast", ["image"], "float", to=TensorProto.FLOAT)
    if nchw:
        cur = node("Transpose", [cur], "nchw", perm=[0, 3, 1, 2])
    if in_scale != 1.0:
        cur = node("Mul", [cur, const("in_scale", np.array(in_scale, np.float32))], "scaled")
    if in_offset != 0.0:
        cur = node("Add", [cur, const("in_offset", np.array(in_offset, np.float32))], "shifted")
    hw = ""
    if multiple > 1:
        shape = node("Shape", [cur], "shape")
        hw = node("Gather", [shape, const("hw_axes", np.array([h_axis, w_axis], np.int64))], "hw")
        m = const("multiple", np.array(multiple, np.int64))
        rest = node("Mod", [hw, m], "rest")
        need = node("Mod", [node("Sub", [m, rest], "missing"), m], "need")
        before = np.zeros(4 + (h_axis if nchw else 1), np.int64)
        parts = [const("pads_lead", before), need]
        if not nchw:
            parts.append(const("pads_tail", np.zeros(1, np.int64)))
        pads = node("Concat", parts, "pads", axis=0)
        cur = node("Pad", [cur, pads], "padded", mode="reflect")
    nodes.append(helper.make_node("Identity", [cur], [x_name], name="restyle_model_input"))
    nodes.extend(g.node)
    cur = y_name
    if multiple > 1:
        cur = node("Slice", [cur, const("crop_starts", np.zeros(2, np.int64)), hw,
                             const("crop_axes", np.array([h_axis, w_axis], np.int64))], "cropped")
    if out_scale != 1.0:
        cur = node("Mul", [cur, const("out_scale", np.array(out_scale, np.float32))], "out_scaled")
    if out_offset != 0.0:
        cur = node("Add", [cur, const("out_offset", np.array(out_offset, np.float32))],
                   "out_shifted")
    cur = node("Clip", [cur, const("lo", np.array(0.0, np.float32)),
                        const("hi", np.array(255.0, np.float32))], "clipped")
    cur = node("Round", [cur], "rounded")
    if nchw:
        cur = node("Transpose", [cur], "nhwc", perm=[0, 2, 3, 1])
    nodes.append(helper.make_node("Cast", [cur], ["stylized"], name="restyle_output",
                                  to=TensorProto.UINT8))
    dims: list[str | int | None] = ["batch", "height", "width", 3]
    graph = helper.make_graph(
        nodes, g.name or "restyle_import",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, dims)],
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, dims)],
        [*g.initializer, *inits],
    )
    out = helper.make_model(graph, opset_imports=list(model.opset_import),
                            producer_name="restyle-import")
    out.ir_version = max(model.ir_version, 8)
    del out.graph.value_info[:]
    onnx.checker.check_model(out)
    return out
