"""The generator registry and the two architectures."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from restyle.errors import ConfigError
from restyle.training.models import Generator, create_model, list_models, register_model


def test_registered_names() -> None:
    assert {"johnson", "compact"} <= set(list_models())


@pytest.mark.parametrize("arch", ["johnson", "compact"])
def test_shape_range_and_rebuild(arch: str) -> None:
    torch.manual_seed(0)
    net = create_model(arch, width=4, blocks=1)
    assert net.arch == arch
    assert isinstance(net, Generator)
    x = torch.rand(2, 3, 36, 44)
    assert 36 % net.size_multiple == 0 and 44 % net.size_multiple == 0
    before = x.clone()
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.equal(x, before)  # the caller's tensor is not touched
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    again = create_model(arch, **net.config())
    assert again.config() == net.config() == {"width": 4, "blocks": 1}
    again.load_state_dict(net.state_dict())
    net.eval()
    again.eval()
    with torch.no_grad():
        assert torch.equal(again(x), net(x))


def test_default_sizes_match_the_issue() -> None:
    johnson = create_model("johnson")
    compact = create_model("compact")
    n_johnson = sum(p.numel() for p in johnson.parameters())
    n_compact = sum(p.numel() for p in compact.parameters())
    assert 1_670_000 < n_johnson < 1_690_000
    assert n_compact < n_johnson / 5


def test_no_transposed_convolutions() -> None:
    for arch in list_models():
        net = create_model(arch)
        assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules()), arch


def test_unknown_architecture_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"compact.*johnson"):
        create_model("resnet-9000")


def test_bad_constructor_argument_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="compact"):
        create_model("compact", depth=3)


def test_register_twice_is_refused() -> None:
    from restyle.training.models.compact import Compact

    with pytest.raises(ValueError, match="twice"):
        register_model("johnson")(Compact)


@pytest.mark.parametrize("arch", ["compact", "johnson"])
def test_exports_to_onnx_and_runs_in_onnxruntime(arch: str, tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    net = create_model(arch, width=4, blocks=1).eval()
    path = tmp_path / f"{arch}.onnx"
    x = torch.rand(1, 3, 40, 48)
    with warnings.catch_warnings():
        # The TorchScript exporter's deprecation notices, raised from inside its C++ code where
        # an error-turned warning breaks it; restyle.export owns the real exporter.
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), input_names=["image"],
                          output_names=["stylized"], dynamic_axes={"image": {2: "h", 3: "w"}},
                          dynamo=False)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "ConvTranspose" not in ops
    if arch == "compact":
        assert "Pad" not in ops  # zero padding stays inside the Conv nodes
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fresh = torch.rand(1, 3, 64, 32)  # another size than exported with
    (out,) = session.run(None, {"image": fresh.numpy()})
    with torch.no_grad():
        expected = net(fresh).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_flops_and_receptive_field() -> None:
    from restyle.training.describe import count_flops, receptive_field

    johnson = create_model("johnson")
    # Convolution FLOPs grow with the pixel count: 64² × 64 = 512².
    assert count_flops(johnson, size=64) * 64 / 1e9 == pytest.approx(80.6, abs=0.05)
    assert receptive_field(create_model("johnson", width=4)) == 111
    assert receptive_field(create_model("compact", width=4)) == 65
    assert receptive_field(create_model("compact", width=4, blocks=1)) == 33
