"""Tiny real restyle models built with onnx.helper, and a numpy reference of the same computation.

The model: uint8 NHWC image → float /255 → NCHW → 3×3 convolution (seeded weights, zero padding,
receptive-field radius 1) → sigmoid → ×255 → NHWC → round → clip → uint8. N, H and W are dynamic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

WEIGHTS = np.random.default_rng(1234).normal(0.0, 0.6, (3, 3, 3, 3)).astype(np.float32)
BIAS = np.array([0.1, -0.2, 0.05], dtype=np.float32)

Reference = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]


def _props(io: str) -> dict[str, str]:
    return {
        "restyle.format_version": "1",
        "restyle.style": "tiny",
        "restyle.description": "a 3×3 convolution for tests",
        "restyle.arch": "tiny_conv",
        "restyle.io": io,
        "restyle.precision": "fp32",
        "restyle.input_name": "image",
        "restyle.output_name": "stylized",
    }


def build_tiny_model(path: Path, *, io: str = "uint8_nhwc") -> Path:
    """Write the tiny model (``uint8_nhwc`` or ``float32_nchw`` I/O) to ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(WEIGHTS, "w"), numpy_helper.from_array(BIAS, "b"),
             numpy_helper.from_array(np.array(1 / 255, np.float32), "inv255"),
             numpy_helper.from_array(np.array(255, np.float32), "k255"),
             numpy_helper.from_array(np.array(0, np.float32), "lo"),
             numpy_helper.from_array(np.array(255, np.float32), "hi")]
    conv = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1],
                             kernel_shape=[3, 3]),
            helper.make_node("Sigmoid", ["c"], ["s"])]
    if io == "uint8_nhwc":
        nodes = [
            helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["f", "inv255"], ["fn"]),
            helper.make_node("Transpose", ["fn"], ["x"], perm=[0, 3, 1, 2]),
            *conv,
            helper.make_node("Mul", ["s", "k255"], ["s255"]),
            helper.make_node("Transpose", ["s255"], ["t"], perm=[0, 2, 3, 1]),
            helper.make_node("Round", ["t"], ["r"]),
            helper.make_node("Clip", ["r", "lo", "hi"], ["cl"]),
            helper.make_node("Cast", ["cl"], ["stylized"], to=TensorProto.UINT8),
        ]
        inp = helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3])
        out = helper.make_tensor_value_info("stylized", TensorProto.UINT8, ["N", "H", "W", 3])
    else:
        nodes = [helper.make_node("Identity", ["image"], ["x"]), *conv,
                 helper.make_node("Identity", ["s"], ["stylized"])]
        inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
        out = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph(nodes, "tiny", [inp], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, _props(io))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference(batch: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """numpy version of the tiny model (float32, same operation order)."""
    x = batch.astype(np.float32) * np.float32(1 / 255)
    n, h, w, _ = x.shape
    padded = np.zeros((n, h + 2, w + 2, 3), np.float32)
    padded[:, 1:-1, 1:-1] = x
    acc = np.zeros((n, h, w, 3), np.float32) + BIAS
    for dy in range(3):
        for dx in range(3):
            acc += padded[:, dy:dy + h, dx:dx + w] @ WEIGHTS[:, :, dy, dx].T
    s = 1.0 / (1.0 + np.exp(-acc))
    return np.clip(np.rint(s * 255.0), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture(scope="session")
def tiny_float_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny_f32.onnx",
                            io="float32_nchw")


@pytest.fixture(scope="session")
def photo() -> NDArray[np.uint8]:
    """A real 96×128 RGB photo (scikit-image's astronaut, public domain), downsampled."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[::4, ::4][:96, :128])


@pytest.fixture(scope="session")
def ref() -> Reference:
    """The numpy reference of the tiny model (``N×H×W×3`` uint8 → same)."""
    return reference
