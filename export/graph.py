"""PyTorch → ONNX graph: the dynamo exporter with dynamic batch, height and width.

The dynamo exporter (``torch.onnx.export(..., dynamo=True)``) gives a small graph: 51 nodes for the
test generator where the legacy TorchScript exporter gives 199, with the same outputs. The legacy
exporter is used only when the dynamo one fails, and the reason is logged as a warning.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
import torch
from torch.export import Dim

from restyle.errors import ConfigError, ExportError
from restyle.export.wrapper import ImageIO, io_names
from restyle.modelinfo import IO_UINT8_NHWC

__all__ = ["DEFAULT_OPSET", "export_graph"]

log = logging.getLogger("restyle.export")

DEFAULT_OPSET = 18
_DIMS_NHWC = ("batch", "height", "width", None)
_DIMS_NCHW = ("batch", None, "height", "width")


@contextmanager
def _collect_warnings(*, level: int) -> Iterator[None]:
    """Turn the exporters' warnings into log records at ``level``, each distinct one once.

    The exporters warn about their own internals (deprecated pytree classes inside torch, the
    tracer's notes on InstanceNorm); they are not the caller's to act on, so they are logged
    instead of raised or printed. Warnings elsewhere are untouched.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen: set[str] = set()
            for w in caught:
                text = f"{w.category.__name__}: {w.message}"
                if text not in seen:
                    seen.add(text)
                    log.log(level, "exporter: %s", text)


@contextmanager
def _quiet_torch_registration() -> Iterator[None]:
    # The dynamo exporter logs "torchvision is not installed. Skipping torchvision::nms" and the
    # like at WARNING through this logger: irrelevant to a style network.
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


def _dynamo(model: ImageIO, example: torch.Tensor, opset: int) -> onnx.ModelProto:
    input_name, output_name = io_names(model.io)
    spatial = (1, 2) if model.io == IO_UINT8_NHWC else (2, 3)
    dynamic = {input_name: {0: Dim.DYNAMIC, spatial[0]: Dim.DYNAMIC, spatial[1]: Dim.DYNAMIC}}
    with _quiet_torch_registration(), _collect_warnings(level=logging.DEBUG):
        program = torch.onnx.export(
            model, (example,), dynamo=True, input_names=[input_name],
            output_names=[output_name], dynamic_shapes=dynamic, opset_version=opset,
            verbose=False, optimize=True, external_data=False,
        )
    if program is None:  # only when an output file is given: never here
        raise ExportError("the dynamo exporter returned no program")
    return program.model_proto


def _legacy(model: ImageIO, example: torch.Tensor, opset: int) -> onnx.ModelProto:
    input_name, output_name = io_names(model.io)
    names = _DIMS_NHWC if model.io == IO_UINT8_NHWC else _DIMS_NCHW
    axes = {i: n for i, n in enumerate(names) if n is not None}
    with tempfile.TemporaryDirectory(prefix="restyle-export-") as folder:
        path = Path(folder) / "legacy.onnx"
        with _collect_warnings(level=logging.INFO):
            torch.onnx.export(
                model, (example,), str(path), dynamo=False, input_names=[input_name],
                output_names=[output_name], dynamic_axes={input_name: axes, output_name: axes},
                opset_version=opset, do_constant_folding=True,
            )
        return onnx.load(str(path))


def _name_dims(model: onnx.ModelProto, io: str) -> None:
    """Give the input and output the same symbolic dims (``batch``, ``height``, ``width``)."""
    names = _DIMS_NHWC if io == IO_UINT8_NHWC else _DIMS_NCHW
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(names):
            raise ExportError(f"exported tensor {value.name} has rank {len(dims)}, expected 4")
        for dim, name in zip(dims, names, strict=True):
            if name is not None:
                dim.dim_param = name


def export_graph(model: ImageIO, *, opset: int = DEFAULT_OPSET) -> tuple[onnx.ModelProto, str]:
    """Export ``model`` to an in-memory ONNX graph with dynamic batch, height and width.

    Args:
        model: The generator behind its image I/O, in eval mode.
        opset: ONNX opset (18 or newer).

    Returns:
        The graph and the exporter that made it (``"dynamo"`` or ``"legacy"``).

    Raises:
        ConfigError: ``opset`` is older than 18.
        ExportError: Both exporters failed.

    Example:
        >>> from torch import nn
        >>> net = ImageIO(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Sigmoid()), size_multiple=1).eval()
        >>> graph, exporter = export_graph(net)  # doctest: +SKIP
        >>> exporter  # doctest: +SKIP
        'dynamo'
    """
    if opset < DEFAULT_OPSET:
        raise ConfigError(
            f"opset {opset} is too old: restyle exports opset {DEFAULT_OPSET} or newer"
        )
    example = model.example_input()
    try:
        graph, exporter = _dynamo(model, example, opset), "dynamo"
    except Exception as exc:  # torch.export raises many types; the reason is what matters
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        log.warning("the dynamo ONNX exporter failed (%s); falling back to the legacy TorchScript "
                    "exporter", reason)
        log.debug("dynamo exporter failure", exc_info=True)
        try:
            graph, exporter = _legacy(model, example, opset), "legacy"
        except Exception as exc2:
            raise ExportError(
                f"the model cannot be exported to ONNX: dynamo exporter: {reason}; legacy "
                f"exporter: {type(exc2).__name__}: {exc2}. Check that the generator uses only "
                "standard torch.nn layers"
            ) from exc2
    _name_dims(graph, model.io)
    log.info("exported with the %s exporter: %d nodes, opset %d", exporter, len(graph.graph.node),
             opset)
    return graph, exporter
