"""A model's weights checked before it runs: NaN or infinite weights are refused at load time.

A generator whose training diverged has NaN weights; its ONNX graph still runs, and a uint8 model
turns every NaN into the same black pixel, so nothing would say why the output is black. The
initializers are read with the minimal protobuf reader of :mod:`restyle.modelinfo` (no onnx
package): ``raw_data`` and packed ``float_data`` of float32, float16, bfloat16 and float64
tensors. Weights kept in external files are not read here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from restyle.errors import ModelFormatError
from restyle.modelinfo import _fields

__all__ = ["check_weights", "nonfinite_weights"]

_GRAPH, _INITIALIZER = 7, 5
_DATA_TYPE, _FLOAT_DATA, _NAME, _RAW_DATA = 2, 4, 8, 9
#: ONNX TensorProto data types → numpy dtypes (bfloat16 as its upper float32 half).
_FLOATS: dict[int, np.dtype[np.generic]] = {
    1: np.dtype("<f4"), 10: np.dtype("<f2"), 11: np.dtype("<f8"), 16: np.dtype("<u2")}


def _finite(data: bytes, data_type: int) -> bool:
    dtype = _FLOATS[data_type]
    if len(data) % dtype.itemsize:
        return True  # not ours to judge: the runtime reports a malformed tensor
    values = np.frombuffer(data, dtype=dtype)
    if data_type == 16:
        values = (values.astype(np.uint32) << 16).view(np.float32)
    return bool(np.isfinite(values).all())


def nonfinite_weights(path: str | os.PathLike[str]) -> list[str]:
    """Names of the float initializers of an ONNX file that hold NaN or infinity.

    Raises:
        ModelFormatError: The file cannot be read or parsed.
    """
    p = Path(path)
    try:
        model = _fields(p.read_bytes())
        bad: list[str] = []
        for number, _, graph in model:
            if number != _GRAPH or not isinstance(graph, bytes):
                continue
            for gnum, _, tensor in _fields(graph):
                if gnum != _INITIALIZER or not isinstance(tensor, bytes):
                    continue
                fields = _fields(tensor)
                dtype = next((v for n, _, v in fields if n == _DATA_TYPE), 0)
                if not isinstance(dtype, int) or dtype not in _FLOATS:
                    continue
                name = next((v for n, _, v in fields if n == _NAME), b"")
                for n, _, v in fields:
                    data_type = dtype if n == _RAW_DATA else 1
                    if n in (_RAW_DATA, _FLOAT_DATA) and isinstance(v, bytes) \
                            and not _finite(v, data_type):
                        bad.append(name.decode("utf-8", "replace")
                                   if isinstance(name, bytes) else "?")
                        break
    except OSError as exc:
        raise ModelFormatError(f"cannot read model file {p}: {exc}") from exc
    except ValueError as exc:
        raise ModelFormatError(f"{p} is not an ONNX model ({exc}): re-export it with "
                               "`restyle export`") from exc
    return bad


def check_weights(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ModelFormatError` when the ONNX file holds NaN or infinite weights.

    Example:
        >>> check_weights("mosaic.onnx")  # doctest: +SKIP
    """
    bad = nonfinite_weights(path)
    if bad:
        raise ModelFormatError(
            f"{path} holds NaN or infinite weights ({', '.join(bad[:3])}"
            f"{' …' if len(bad) > 3 else ''}): its training diverged; re-export it from an "
            "earlier checkpoint"
        )
