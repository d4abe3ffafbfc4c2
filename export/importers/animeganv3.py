"""AnimeGANv3 ONNX generators (``AnimeGANv3_Hayao_36.onnx`` …).

NHWC float32 RGB in [-1, 1] in, tanh out, sides a multiple of 8 (the project's own scripts
resize to multiples of 8; restyle reflect-pads and crops back instead, inside the graph).
"""

from __future__ import annotations

import copy
from typing import Any

from restyle.export.importers.check import Forward
from restyle.export.importers.graph import (
    fold_upsample_convs,
    free_sizes,
    opset_of,
    upgrade,
    wrap_image_io,
)
from restyle.export.importers.onnx_zoo import dims, graph_io, reference
from restyle.export.importers.registry import Detection, register_importer

__all__ = ["AnimeGan3Importer"]

#: Side multiple of AnimeGANv3's own pre-processing.
MULTIPLE = 8
#: Oldest opset kept as it is (restyle's I/O nodes need 11); older graphs are upgraded.
_MIN_OPSET = 13


@register_importer("animeganv3", kind="onnx", title="AnimeGANv3 ONNX generator (NHWC, [-1, 1])")
class AnimeGan3Importer:
    """Recognises a float NHWC RGB → NHWC RGB graph."""

    def detect(self, model: Any) -> Detection | None:
        io = graph_io(model)
        if io is None:
            return None
        shape_in, shape_out = dims(io[0]), dims(io[1])
        if len(shape_in) != 4 or shape_in[3] != 3 or shape_in[1] == 3 or len(shape_out) != 4 \
                or shape_out[3] != 3 or io[0].type.tensor_type.elem_type != 1:
            return None
        return Detection(
            "animeganv3",
            f"AnimeGANv3 graph, opset {opset_of(model)}, {io[0].name} "
            f"[{'×'.join(map(str, shape_in))}] NHWC ([-1, 1] in, tanh out, sides ×{MULTIPLE})",
            {"opset": opset_of(model), "input": io[0].name})

    def convert(self, model: Any, detection: Detection, *, fold: bool) -> tuple[Any, int,
                                                                                   Forward]:
        graph = copy.deepcopy(model)
        free_sizes(graph, layout="NHWC")
        if opset_of(graph) < _MIN_OPSET:
            graph = upgrade(graph)
        folded = fold_upsample_convs(graph) if fold else 0
        scale = 1.0 / 127.5
        wrapped = wrap_image_io(graph, layout="NHWC", in_scale=scale, in_offset=-1.0,
                                out_scale=127.5, out_offset=127.5, multiple=MULTIPLE)
        ref = reference(model, layout="NHWC", multiple=MULTIPLE, scale=scale, offset=-1.0,
                        out_scale=127.5, out_offset=127.5)
        return wrapped, folded, ref
