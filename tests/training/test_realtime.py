"""The ``realtime`` generator: shape, cost budget, export through restyle.export."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from restyle.training.describe import count_flops, receptive_field
from restyle.training.models import create_model, list_models


def test_registered_with_shape_range_and_rebuild() -> None:
    assert "realtime" in list_models()
    torch.manual_seed(0)
    net = create_model("realtime", width=4, blocks=1).eval()
    assert net.size_multiple == 8
    x = torch.rand(2, 3, 40, 56)
    before = x.clone()
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and torch.equal(x, before)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    again = create_model("realtime", **net.config())
    assert again.config() == {"width": 4, "blocks": 1}
    again.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.equal(again.eval()(x), y)


def test_cost_budget() -> None:
    """≤ 1.9 GMAC per 512×512 frame (the measured 30 frames/s class on 2 CPU cores), a twentieth
    of johnson, with a receptive field larger than compact's."""
    net, johnson = create_model("realtime"), create_model("johnson")
    flops = count_flops(net, size=64) * 64  # FLOPs scale with pixels: 64² × 64 = 512²
    assert flops / 2 < 1.9e9
    assert flops < count_flops(johnson, size=64) * 64 / 20
    assert receptive_field(create_model("realtime", width=4)) > 65


def test_detail_path_reaches_full_resolution() -> None:
    """A one-pixel change of the input changes that output pixel through the detail path, not
    only an 8×8 block of the 1/8-resolution body."""
    torch.manual_seed(0)
    net = create_model("realtime", width=4, blocks=1).eval()
    x = torch.rand(1, 3, 32, 32)
    changed = x.clone()
    changed[0, :, 13, 13] += 0.5
    with torch.no_grad():
        diff = (net(changed) - net(x)).abs().sum(dim=1)[0]
    assert float(diff[13, 13]) > 0
    assert float(diff[13, 13]) > float(diff[13, 15])


def test_exports_without_pad_nodes(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    net = create_model("realtime", width=4, blocks=1).eval()
    path = tmp_path / "realtime.onnx"
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notices, raised from inside its C++ code where
        # an error-turned warning breaks it; restyle.export owns the real exporter.
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.rand(1, 3, 32, 48),), str(path), input_names=["image"],
                          output_names=["stylized"], dynamic_axes={"image": {2: "h", 3: "w"}},
                          dynamo=False)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Pad" not in ops and "ConvTranspose" not in ops  # padding stays inside the Convs
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fresh = torch.rand(1, 3, 40, 64)  # another size than exported with
    (out,) = session.run(None, {"image": fresh.numpy()})
    with torch.no_grad():
        expected = net(fresh).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-4)
