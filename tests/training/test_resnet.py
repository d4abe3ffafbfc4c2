"""ResNet-50 features: torchvision's layout and key names, SWAG smoothing, training with them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from restyle.errors import ConfigError, TrainingError
from restyle.training.resnet import ResNetFeatures, smooth_activations

#: torchvision's ResNet-50 (ResNet50_Weights.IMAGENET1K_V1 lists num_params 25,557,032).
TORCHVISION_RESNET50_PARAMETERS = 25_557_032


def _bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (channels,), f"{prefix}.bias": (channels,),
            f"{prefix}.running_mean": (channels,), f"{prefix}.running_var": (channels,),
            f"{prefix}.num_batches_tracked": ()}


def torchvision_resnet50_layout() -> dict[str, tuple[int, ...]]:
    """The key names and shapes of torchvision's ``resnet50().state_dict()``, written out from
    torchvision's naming rules (torchvision itself is not installed here)."""
    keys: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7), **_bn("bn1", 64)}
    channels = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512),
                                                strict=True), start=1):
        for block in range(blocks):
            p = f"layer{stage}.{block}"
            keys[f"{p}.conv1.weight"] = (width, channels, 1, 1)
            keys.update(_bn(f"{p}.bn1", width))
            keys[f"{p}.conv2.weight"] = (width, width, 3, 3)
            keys.update(_bn(f"{p}.bn2", width))
            keys[f"{p}.conv3.weight"] = (width * 4, width, 1, 1)
            keys.update(_bn(f"{p}.bn3", width * 4))
            if block == 0:
                keys[f"{p}.downsample.0.weight"] = (width * 4, channels, 1, 1)
                keys.update(_bn(f"{p}.downsample.1", width * 4))
            channels = width * 4
    keys["fc.weight"] = (1000, 2048)
    keys["fc.bias"] = (1000,)
    return keys


def _replica(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, shape in torchvision_resnet50_layout().items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = 0.05 * torch.randn(shape, generator=gen)
    return state


def test_the_written_out_layout_is_torchvisions_resnet50() -> None:
    layout = torchvision_resnet50_layout()
    learnable = sum(torch.Size(s).numel() for k, s in layout.items()
                    if k.endswith(("weight", "bias")))
    assert learnable == TORCHVISION_RESNET50_PARAMETERS
    assert len(layout) == 320  # len(torchvision.models.resnet50().state_dict())


def test_our_layout_is_torchvisions_without_fc() -> None:
    layout = torchvision_resnet50_layout()
    ours = {k: tuple(v.shape) for k, v in ResNetFeatures().state_dict().items()}
    assert ours == {k: s for k, s in layout.items() if not k.startswith("fc.")}


def test_truncated_after_the_deepest_layer_a_loss_needs() -> None:
    net = ResNetFeatures(style_layers=("relu", "layer1"), content_layers=("layer1",))
    assert not any(k.startswith(("layer2", "layer3", "layer4")) for k in net.state_dict())
    assert set(net(torch.rand(1, 3, 32, 32))) == {"relu", "layer1"}


def test_loads_a_torchvision_checkpoint_file(tmp_path: Path) -> None:
    state = _replica()
    path = tmp_path / "resnet50-0676ba61.pth"
    torch.save(state, path)
    net = ResNetFeatures().load_torchvision(path)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert not net.training  # BatchNorm runs on the checkpoint's statistics
    net.train()
    assert not net.training


def test_smoothing_is_a_softmax_over_each_map() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    net = ResNetFeatures(smoothing=False)
    same = ResNetFeatures(smoothing=True)
    same.load_state_dict(net.state_dict())
    raw, out = net(x), same(x)
    for name, value in out.items():
        assert torch.allclose(value.sum(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
        assert torch.allclose(value, smooth_activations(raw[name]))
        assert not torch.allclose(value, raw[name])
        assert (value > 0).all()  # ReLU zeros become small positive mass: higher entropy


def test_wrong_file_and_unknown_layer(tmp_path: Path) -> None:
    path = tmp_path / "vgg16.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(TrainingError, match="not a torchvision ResNet-50"):
        ResNetFeatures().load_torchvision(path)
    bad = _replica()
    bad["layer2.0.conv1.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(bad, path)
    with pytest.raises(TrainingError, match="do not fit the ResNet-50 layout"):
        ResNetFeatures().load_torchvision(path)
    with pytest.raises(ConfigError, match="no feature map"):
        ResNetFeatures(style_layers=("layer5",))


def test_trains_with_resnet_features(style_image: Path, content_dir: Path,
                                     tmp_path: Path) -> None:
    from restyle.training import TrainConfig, train

    weights = tmp_path / "resnet50-0676ba61.pth"
    torch.save(_replica(), weights)
    config = TrainConfig(style=(style_image,), content=content_dir, out=tmp_path / "run",
                         arch="compact", width=8, blocks=1, size=32, batch_size=2, steps=2,
                         crop=16, preview_every=0, features="resnet50", vgg_weights=weights)
    result = train(config, progress=False)
    assert result.last is not None and result.last.content > 0 and result.last.style > 0
