"""Writing a model's description into its ONNX ``metadata_props`` (the keys of restyle.modelinfo).

:class:`restyle.modelinfo.ModelInfo` is the record and :data:`restyle.modelinfo.KEYS` the list of
keys; this module only turns one into the other, so reading (in the torch-free runtime) and
writing (here) cannot drift apart.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from restyle.modelinfo import KEYS, PREFIX, ModelInfo
from restyle.shapes import SHAPES_KEY

if TYPE_CHECKING:
    import onnx

__all__ = ["metadata_props", "shapes_of", "write_metadata"]


def metadata_props(info: ModelInfo) -> dict[str, str]:
    """Every key of :data:`~restyle.modelinfo.KEYS`, prefixed ``restyle.``, as strings.

    Example:
        >>> props = metadata_props(ModelInfo(path="", style="mosaic", arch="compact",
        ...                                  arch_config={"width": 16}, train_size=256))
        >>> props["restyle.style"], props["restyle.arch_config"], props["restyle.train_size"]
        ('mosaic', '{"width": 16}', '256')
    """
    values = info.as_dict()
    missing = sorted(set(KEYS) - set(values))
    if missing:  # a key was added to modelinfo.KEYS without a ModelInfo field: a restyle bug
        raise RuntimeError(f"ModelInfo has no field for metadata key(s) {', '.join(missing)}")
    props: dict[str, str] = {}
    for key in KEYS:
        value = values[key]
        if isinstance(value, (dict, list)):
            text = json.dumps(value, sort_keys=True)
        elif value is None:
            text = ""
        else:
            text = str(value)
        props[PREFIX + key] = text
    return props


def shapes_of(model: onnx.ModelProto) -> str:
    """The shape map ``model`` carries (:data:`restyle.shapes.SHAPES_KEY`), ``""`` if none."""
    return next((p.value for p in model.metadata_props if p.key == SHAPES_KEY), "")


def write_metadata(model: onnx.ModelProto, info: ModelInfo, *, shapes: str | None = None
                   ) -> None:
    """Replace ``model``'s ``restyle.*`` metadata with ``info`` (other entries are kept).

    ``shapes``: the style's shape map (:data:`restyle.shapes.SHAPES_KEY`) to store; ``None``
    keeps the one ``model`` carries (a model rewritten to fp16 or int8 keeps its shapes).
    """
    props = metadata_props(info)
    shapes = shapes_of(model) if shapes is None else shapes
    if shapes:
        props[SHAPES_KEY] = shapes
    kept = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    for key, value in [*kept, *props.items()]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = f"restyle style {info.style!r}" + (
        f": {info.description}" if info.description else ""
    )
