"""Rewrites of a model's ONNX graph that let tiles share whole-image normalisation statistics.

InstanceNormalization normalises every channel with the mean and variance of the whole input.
A tile sees only part of the picture, so a tiled run normalises each tile differently and the
colours drift from tile to tile (``mosaic`` on a 2400×1600 photo: 48 grey levels on average).
These rewrites split that computation up (:mod:`restyle.tilenorm` runs them):

* :func:`statistics_model`: the model up to its last InstanceNormalization, with every
  normalisation's per-channel input mean and variance as outputs (``N×C×1×1`` float32, named by
  :func:`stat_names`). Run on a downscaled copy of the image: a first estimate.
* :func:`tile_model`: the model with every InstanceNormalization replaced by
  ``(x − mean) / sqrt(var + ε) · scale + bias`` whose mean and variance are extra float32 graph
  inputs (``1×C×1×1``, same names). Run on the tiles, fed whole-image statistics.
* :func:`tile_model` with ``sums_of=k``: the same, cut after normalisation ``k``'s input, with
  masked sums of that input as outputs: summed over tiles, layer ``k``'s exact statistics.

Why at run time, with ``onnx``, rather than variants stored at export: the rewrite works on any
restyle model (bundled, user exported, older files, another helper's new styles) without a
change to the file format, the export or the bundled files, and it takes milliseconds. It is
only needed for images large enough to be tiled, so ``onnx`` is imported only then (it is in the
``cpu``, ``gpu`` and ``openvino`` extras; without it the tiler says how to install it), and
``import restyle`` stays as light as before. Models without InstanceNormalization need none of
this and tile as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from restyle._optional import require

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

__all__ = ["MASK", "instance_norms", "prune", "stat_names", "statistics_model", "sum_names",
           "tile_model"]

INSTANCE_NORM = "InstanceNormalization"
#: The tile-mask input of :func:`tile_model` with ``sums_of``.
MASK = "restyle_norm_mask"
_PURPOSE = "tiling large images with whole-image normalisation statistics"


def _onnx() -> Any:
    return require("onnx", purpose=_PURPOSE)


def instance_norms(model: ModelProto) -> list[NodeProto]:
    """The main graph's InstanceNormalization nodes, in graph order."""
    return [n for n in model.graph.node if _is_norm(n)]


def _is_norm(node: NodeProto) -> bool:
    return node.op_type == INSTANCE_NORM and node.domain in ("", "ai.onnx")


def stat_names(index: int) -> tuple[str, str]:
    """Names of the mean and variance tensors of the ``index``-th InstanceNormalization."""
    return f"restyle_norm{index}_mean", f"restyle_norm{index}_var"


def sum_names(index: int) -> tuple[str, str, str]:
    """Names of the masked count, sum and sum of squares of the ``index``-th normalisation."""
    return f"restyle_norm{index}_count", f"restyle_norm{index}_sum", f"restyle_norm{index}_sum2"


def _opset(model: ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 1


def _channels(model: ModelProto, node: NodeProto) -> int | str:
    """The channel count of a normalisation (from its scale initializer), or a symbolic name."""
    for init in model.graph.initializer:
        if init.name == node.input[1] and len(init.dims) == 1:
            return int(init.dims[0])
    return f"C_{node.output[0]}"


def _reduce(model: ModelProto, helper: Any, op: str, src: str, dst: str, axes: str) -> Any:
    """``op`` (ReduceMean / ReduceSum) over H and W, keeping dims; ``axes`` names the [2, 3]
    initializer that opsets with axes as an input read."""
    if _opset(model) >= (13 if op == "ReduceSum" else 18):
        return helper.make_node(op, [src, axes], [dst], keepdims=1)
    return helper.make_node(op, [src], [dst], axes=[2, 3], keepdims=1)


def prune(model: ModelProto) -> None:
    """Drop nodes, initializers and inputs that no graph output depends on."""
    needed = {o.name for o in model.graph.output}
    keep: list[NodeProto] = []
    for node in reversed(model.graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    del model.graph.node[:]
    model.graph.node.extend(reversed(keep))
    inits = [i for i in model.graph.initializer if i.name in needed]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    inputs = [i for i in model.graph.input if i.name in needed]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    vinfo = [v for v in model.graph.value_info if v.name in needed]
    del model.graph.value_info[:]
    model.graph.value_info.extend(vinfo)


def statistics_model(model: ModelProto) -> ModelProto:
    """A copy of ``model`` whose outputs are every InstanceNormalization's input mean and variance.

    The image input is unchanged; the stylised output and everything after the last
    normalisation are dropped. Variances are biased (divided by H·W), as the operator uses them.

    Raises:
        ValueError: ``model`` has no InstanceNormalization.
    """
    onnx = _onnx()
    helper, tp = onnx.helper, onnx.TensorProto
    norms = instance_norms(model)
    if not norms:
        raise ValueError("the model has no InstanceNormalization: nothing to gather")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    axes = "restyle_norm_axes"
    nodes: list[Any] = []
    outputs: list[Any] = []
    for k, node in enumerate(norms):
        mean, var = stat_names(k)
        x, p = node.input[0], f"restyle_norm{k}_"
        nodes += [
            helper.make_node("Cast", [x], [p + "x32"], to=tp.FLOAT),
            _reduce(out, helper, "ReduceMean", p + "x32", mean, axes),
            helper.make_node("Sub", [p + "x32", mean], [p + "d"]),
            helper.make_node("Mul", [p + "d", p + "d"], [p + "d2"]),
            _reduce(out, helper, "ReduceMean", p + "d2", var, axes),
        ]
        c = _channels(model, node)
        outputs += [helper.make_tensor_value_info(n, tp.FLOAT, ["N", c, 1, 1]) for n in (mean, var)]
    out.graph.initializer.append(helper.make_tensor(axes, tp.INT64, [2], [2, 3]))
    out.graph.node.extend(nodes)
    del out.graph.output[:]
    out.graph.output.extend(outputs)
    prune(out)
    return out  # type: ignore[no-any-return]


def tile_model(model: ModelProto, *, sums_of: int | None = None) -> ModelProto:
    """A copy of ``model`` whose InstanceNormalizations take their statistics as graph inputs.

    Each normalisation ``k`` becomes ``(x − mean_k) · scale / sqrt(var_k + ε) + bias`` with
    ``mean_k`` and ``var_k`` float32 inputs of shape ``1×C×1×1`` (cast to ``x``'s type inside the
    graph), broadcast over every tile of a batch.

    Args:
        model: A restyle model with InstanceNormalization (opset 15 or later).
        sums_of: Instead of the stylised image, output sums of normalisation ``sums_of``'s
            input over the pixels where an extra ``N×1×H×W`` uint8 input :data:`MASK` is 1: the
            count, and per channel the sums of ``x − mean`` and ``(x − mean)²`` (``N×1×1×1``
            and ``N×C×1×1`` float32, named by :func:`sum_names`; centred on the given mean so
            float32 sums stay exact). Summed over tiles whose masks partition the image they
            give that layer's whole-image statistics, given those fed to the layers before it.
            Everything the sums do not depend on is dropped.

    Raises:
        ValueError: ``model`` has no InstanceNormalization, or its opset is older than 15.
    """
    onnx = _onnx()
    helper, tp, numpy_helper = onnx.helper, onnx.TensorProto, onnx.numpy_helper
    if not instance_norms(model):
        raise ValueError("the model has no InstanceNormalization: tile it as it is")
    if _opset(model) < 15:
        raise ValueError(f"opset {_opset(model)} is older than 15: re-export the model with "
                         "`restyle export` to tile it with whole-image statistics")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    shape, axes = "restyle_norm_shape", "restyle_norm_axes"
    nodes: list[Any] = []
    outputs: list[Any] = list(out.graph.output) if sums_of is None else []
    if sums_of is not None:
        out.graph.input.append(helper.make_tensor_value_info(MASK, tp.UINT8, ["N", 1, "H", "W"]))
        nodes += [helper.make_node("Cast", [MASK], ["restyle_mask_f"], to=tp.FLOAT),
                  helper.make_node("Shape", [MASK], ["restyle_mask_nc"], start=0, end=2)]
    k = 0
    for node in out.graph.node:
        if not _is_norm(node):
            nodes.append(node)
            continue
        mean, var = stat_names(k)
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        x, scale, bias = node.input[0], node.input[1], node.input[2]
        p = f"restyle_norm{k}_"
        c = _channels(model, node)
        for n in (mean, var):
            out.graph.input.append(helper.make_tensor_value_info(n, tp.FLOAT, [1, c, 1, 1]))
        out.graph.initializer.append(numpy_helper.from_array(np.array(eps, np.float32), p + "eps"))
        nodes += [
            helper.make_node("CastLike", [mean, x], [p + "m"]),
            helper.make_node("CastLike", [var, x], [p + "v"]),
            helper.make_node("CastLike", [p + "eps", x], [p + "epsx"]),
            helper.make_node("Add", [p + "v", p + "epsx"], [p + "ve"]),
            helper.make_node("Sqrt", [p + "ve"], [p + "sd"]),
            helper.make_node("Reshape", [scale, shape], [p + "scale"]),
            helper.make_node("Div", [p + "scale", p + "sd"], [p + "a"]),
            helper.make_node("Reshape", [bias, shape], [p + "bias"]),
            helper.make_node("Sub", [x, p + "m"], [p + "xc"]),
            helper.make_node("Mul", [p + "xc", p + "a"], [p + "xa"]),
            helper.make_node("Add", [p + "xa", p + "bias"], list(node.output)),
        ]
        if k == sums_of:
            count, s1, s2 = sum_names(k)
            nodes += [
                helper.make_node("Shape", [x], [p + "hw"], start=2, end=4),
                helper.make_node("Concat", ["restyle_mask_nc", p + "hw"], [p + "size"], axis=0),
                helper.make_node("Resize", ["restyle_mask_f", "", "", p + "size"], [p + "mask"],
                                 mode="nearest", coordinate_transformation_mode="asymmetric",
                                 nearest_mode="floor"),
                helper.make_node("Cast", [p + "xc"], [p + "xc32"], to=tp.FLOAT),
                helper.make_node("Mul", [p + "xc32", p + "mask"], [p + "xm"]),
                helper.make_node("Mul", [p + "xm", p + "xc32"], [p + "xm2"]),
                _reduce(out, helper, "ReduceSum", p + "mask", count, axes),
                _reduce(out, helper, "ReduceSum", p + "xm", s1, axes),
                _reduce(out, helper, "ReduceSum", p + "xm2", s2, axes),
            ]
            outputs += [helper.make_tensor_value_info(count, tp.FLOAT, ["N", 1, 1, 1])]
            outputs += [helper.make_tensor_value_info(n, tp.FLOAT, ["N", c, 1, 1])
                        for n in (s1, s2)]
        k += 1
    out.graph.initializer.append(helper.make_tensor(shape, tp.INT64, [4], [1, -1, 1, 1]))
    out.graph.initializer.append(helper.make_tensor(axes, tp.INT64, [2], [2, 3]))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    del out.graph.output[:]
    out.graph.output.extend(outputs)
    prune(out)
    return out  # type: ignore[no-any-return]
