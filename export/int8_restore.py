"""Keep in float the layers the quality gate needs: rank, restore, re-measure.

Post-training quantisation spreads its error unevenly: in a trained ``johnson`` generator a few
convolutions cost most of the decibels. When an int8 model fails the gate, :func:`restore_until`
measures what restoring each quantised convolution to its fp32 weights (and float input) gains on
the photos that failed, then restores the costliest ones, one at a time, until the gate passes or
the allowed number of float layers is spent. Each candidate is a real model run by the same
runtime as the gate; the surgery is :func:`restore_float` (no re-calibration: the other layers
keep the bias correction they were calibrated with).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import numpy_helper

from restyle.normgraph import prune
from restyle.precision import GateReport, psnr

__all__ = ["Restoration", "psnr_against", "quantised_layers", "restore_float", "restore_until"]

log = logging.getLogger("restyle.export")

_LAYERS = ("Conv", "ConvTranspose")
#: Nodes an activation passes through between its DequantizeLinear and the layer reading it.
_PASS_THROUGH = ("Pad",)

#: Runs a candidate model (in memory) on one uint8 N×H×W×3 batch.
ModelRunner = Callable[[onnx.ModelProto], Callable[[NDArray[np.uint8]], NDArray[np.uint8]]]


@dataclass(frozen=True)
class Restoration:
    """What :func:`restore_until` kept in float and what the gate measured after."""

    model: onnx.ModelProto
    gate: GateReport
    float_layers: dict[str, float]
    """Restored layer → what restoring it alone gained on the failing photos, in dB."""
    ranked: dict[str, float]
    """Every quantised layer → its gain alone, in dB (the ranking)."""


def psnr_against(reference: Mapping[str, NDArray[np.uint8]],
                 runner: Callable[[NDArray[np.uint8]], NDArray[np.uint8]],
                 photos: Mapping[str, NDArray[np.uint8]],
                 names: Iterable[str] | None = None) -> dict[str, float]:
    """PSNR of ``runner``'s output against the cached ``reference`` output, per photo of
    ``names`` (default: every photo of ``reference``)."""
    return {p: psnr(reference[p], runner(photos[p][None]))
            for p in (reference if names is None else names)}


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in model.graph.node for out in node.output}


def quantised_layers(model: onnx.ModelProto) -> list[str]:
    """Names of the convolutions whose weights an int8 (QDQ) model stores quantised."""
    producers = _producers(model)
    return [n.name for n in model.graph.node
            if n.op_type in _LAYERS and len(n.input) > 1 and n.input[1] in producers
            and producers[n.input[1]].op_type == "DequantizeLinear"]


def _float_input(model: onnx.ModelProto, node: onnx.NodeProto,
                 producers: Mapping[str, onnx.NodeProto]) -> None:
    """Point the activation path of ``node`` past its QuantizeLinear → DequantizeLinear pair."""
    reader, index = node, 0
    tensor = node.input[0]
    while tensor in producers and producers[tensor].op_type in _PASS_THROUGH:
        reader, index = producers[tensor], 0
        tensor = reader.input[0]
    dq = producers.get(tensor)
    if dq is None or dq.op_type != "DequantizeLinear":
        return
    q = producers.get(dq.input[0])
    if q is None or q.op_type != "QuantizeLinear":
        return
    readers = [n for n in model.graph.node if tensor in n.input]
    if readers == [reader]:  # a shared quantised activation stays quantised for the others
        reader.input[index] = q.input[0]
    elif reader is not node:  # copy the pass-through node so only this layer reads float
        copy = onnx.NodeProto()
        copy.CopyFrom(reader)
        copy.name = f"{reader.name}_float_{node.name}"
        copy.input[index] = q.input[0]
        copy.output[0] = f"{reader.output[0]}_float_{node.name}"
        model.graph.node.insert(list(model.graph.node).index(reader) + 1, copy)
        node.input[0] = copy.output[0]
    else:
        node.input[0] = q.input[0]


def restore_float(int8: onnx.ModelProto, fp32: onnx.ModelProto,
                  names: list[str]) -> onnx.ModelProto:
    """A copy of ``int8`` in which the layers ``names`` compute in float again.

    Each restored layer reads its input before quantisation and gets the fp32 model's weights and
    bias (the original ones, not the bias-corrected ones its int8 twin had).

    Raises:
        KeyError: A name is not a layer of both models.
    """
    out = onnx.ModelProto()
    out.CopyFrom(int8)
    source = {n.name: n for n in fp32.graph.node}
    weights = {i.name: i for i in fp32.graph.initializer}
    nodes = {n.name: n for n in out.graph.node}
    producers = _producers(out)
    taken = {i.name for i in out.graph.initializer}
    for name in names:
        node, original = nodes[name], source[name]
        _float_input(out, node, producers)
        for slot in range(1, min(len(node.input), len(original.input))):
            tensor = weights.get(original.input[slot])
            if tensor is None:
                continue
            fresh = f"{original.input[slot]}_float"
            if fresh not in taken:
                out.graph.initializer.append(numpy_helper.from_array(
                    numpy_helper.to_array(tensor), fresh))
                taken.add(fresh)
            node.input[slot] = fresh
    prune(out)
    return out


def restore_until(
    int8: onnx.ModelProto,
    fp32: onnx.ModelProto,
    *,
    run: ModelRunner,
    reference: Mapping[str, NDArray[np.uint8]],
    photos: Mapping[str, NDArray[np.uint8]],
    gate: GateReport,
    max_layers: int,
) -> Restoration:
    """Restore the costliest quantised layers to float until ``gate`` passes.

    Args:
        int8, fp32: The quantised model and the one it came from.
        run: Builds a runner for a model (the gate's runtime).
        reference: The fp32 model's output for every photo of the gate.
        photos: The gate's photos.
        gate: The failed measurement of ``int8``.
        max_layers: At most this many layers are restored.

    Returns:
        The first model that passes, with its gate; when none within ``max_layers`` does, the
        last one tried (its ``gate.passed`` is false).
    """
    layers = quantised_layers(int8)
    failing = sorted((p for p in gate.psnr_db if gate.psnr_db[p] < gate.threshold_db),
                     key=gate.psnr_db.__getitem__)[:3]
    base = float(np.mean([gate.psnr_db[p] for p in failing]))

    def measure(model: onnx.ModelProto, names: list[str]) -> dict[str, float]:
        return psnr_against(reference, run(model), photos, names)

    ranked = {}
    for name in layers:
        gained = measure(restore_float(int8, fp32, [name]), failing)
        ranked[name] = float(np.mean(list(gained.values()))) - base
        log.info("int8: %s in float gains %.2f dB on %s", name, ranked[name], ", ".join(failing))
    order = sorted(layers, key=lambda n: -ranked[n])
    best = Restoration(int8, gate, {}, ranked)
    for count in range(1, min(max_layers, len(order)) + 1):
        chosen = order[:count]
        model = restore_float(int8, fp32, chosen)
        measured = GateReport(measure(model, list(photos)), threshold_db=gate.threshold_db,
                              runtime=gate.runtime, photos=gate.photos)
        log.info("int8 with %d layer(s) in float: %s", count, measured.summary())
        best = Restoration(model, measured, {n: ranked[n] for n in chosen}, ranked)
        if measured.passed:
            break
    return best
