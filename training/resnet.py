"""ResNet-50 features for the perceptual losses, with activation smoothing (SWAG).

The layer layout is torchvision's ``resnet50`` (v1.5: the stride of a downsampling bottleneck
sits on its 3×3 convolution), written here without torchvision, with its parameter names
(``conv1.weight``, ``layer3.5.bn2.running_var``, ``layer1.0.downsample.0.weight`` …), so
torchvision's ImageNet checkpoints (``resnet50-0676ba61.pth``, IMAGENET1K_V1, or
``resnet50-11ad3fa6.pth``, IMAGENET1K_V2) load as-is. ``fc`` is not built: the losses need no
classifier.

Plain ResNet features style poorly: Wang, Li and Vasconcelos ("Rethinking and Improving the
Robustness of Image Style Transfer", CVPR 2021) trace it to the residual connections, whose
feature maps have a few huge peaks (low entropy), so the Gram statistics describe those peaks
and little else. Their fix, *Stylization With Activation smoothinG* (SWAG), passes every
feature map a loss reads through a softmax over all of its activations (channels and
positions, per image) before the Gram matrix and the content comparison. ``smoothing=True``
(the default) does that here.

Layers (after the paper's choice of one map per stage): style from the stem (``relu``, 1/2
resolution) and the outputs of ``layer1`` … ``layer4``; content from ``layer2`` (1/8, the
resolution of VGG16's relu3_3; Johnson et al.'s relu2_2 sits at 1/2, where ResNet has only its
stem).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from restyle.errors import ConfigError, TrainingError
from restyle.training.features import FeatureNetwork, load_torchvision_state

__all__ = ["RESNET_FILES", "Bottleneck", "ResNetFeatures", "smooth_activations"]

#: torchvision's ImageNet checkpoints of ResNet-50 (V1 is the one the SWAG paper used).
RESNET_FILES = {
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "resnet50-v2": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
}
#: Bottleneck blocks per stage and their widths (ResNet-50).
_BLOCKS = (3, 4, 6, 3)
_WIDTHS = (64, 128, 256, 512)
_EXPANSION = 4
_STAGES = ("relu", "layer1", "layer2", "layer3", "layer4")
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def smooth_activations(features: torch.Tensor) -> torch.Tensor:
    """SWAG's softmax over all activations of each image (channels × positions), reshaped back.

    Example:
        >>> s = smooth_activations(torch.randn(2, 4, 3, 3))
        >>> [round(float(v), 5) for v in s.sum(dim=(1, 2, 3))]
        [1.0, 1.0]
    """
    n = features.shape[0]
    return torch.softmax(features.reshape(n, -1), dim=1).reshape(features.shape)


class Bottleneck(nn.Module):
    """torchvision's ``Bottleneck``: 1×1 → 3×3 (stride here) → 1×1 (×4 channels), BatchNorm after
    each, a ``downsample`` (1×1 conv + BatchNorm) on the shortcut where the shape changes."""

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out = width * _EXPANSION
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride,
                                                      bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        shortcut = x if self.downsample is None else self.downsample(x)
        out: torch.Tensor = self.relu(h + shortcut)
        return out


class ResNetFeatures(FeatureNetwork):
    """ResNet-50 up to the last stage a loss needs, in eval mode (BatchNorm uses its running
    statistics), optionally with SWAG activation smoothing of every map it returns.

    Random weights until :meth:`load_torchvision` (useful only for tests).

    Args:
        smoothing: Softmax-smooth the returned maps (Wang et al. 2021); ``False``: raw maps.
        style_layers: Maps for the Gram loss, from ``relu`` (the stem), ``layer1`` … ``layer4``.
        content_layers: Maps for the content loss.

    Example:
        >>> net = ResNetFeatures()
        >>> {k: tuple(v.shape) for k, v in net(torch.rand(1, 3, 64, 64)).items()}
        {'relu': (1, 64, 32, 32), 'layer1': (1, 256, 16, 16), 'layer2': (1, 512, 8, 8), \
'layer3': (1, 1024, 4, 4), 'layer4': (1, 2048, 2, 2)}
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, *, smoothing: bool = True,
                 style_layers: tuple[str, ...] = _STAGES,
                 content_layers: tuple[str, ...] = ("layer2",)) -> None:
        super().__init__()
        unknown = (set(style_layers) | set(content_layers)) - set(_STAGES)
        if unknown:
            raise ConfigError(f"ResNet-50 has no feature map {sorted(unknown)}: choose from "
                              f"{', '.join(_STAGES)}")
        self.smoothing = smoothing
        self.style_layers, self.content_layers = tuple(style_layers), tuple(content_layers)
        wanted = set(style_layers) | set(content_layers)
        self._depth = max(_STAGES.index(n) for n in wanted)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for stage in range(self._depth):
            width = _WIDTHS[stage]
            blocks = [Bottleneck(channels, width, stride=1 if stage == 0 else 2)]
            channels = width * _EXPANSION
            blocks += [Bottleneck(channels, width) for _ in range(_BLOCKS[stage] - 1)]
            self.add_module(f"layer{stage + 1}", nn.Sequential(*blocks))
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> ResNetFeatures:
        """Always eval: a loss network's BatchNorm keeps its running statistics."""
        super().train(False)
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = set(self.style_layers) | set(self.content_layers)
        h = self.relu(self.bn1(self.conv1((x - self.mean) / self.std)))
        maps = {"relu": h}
        h = self.maxpool(h)
        for stage in range(1, self._depth + 1):
            h = getattr(self, f"layer{stage}")(h)
            maps[f"layer{stage}"] = h
        return {k: (smooth_activations(v) if self.smoothing else v)
                for k, v in maps.items() if k in wanted}

    def load_torchvision(self, weights: str | Path | None = None,
                         *, variant: str = "resnet50") -> ResNetFeatures:
        """Load torchvision's ImageNet weights: from ``weights`` (a ``resnet50-*.pth`` file), the
        torch hub cache, or a download of ``variant`` (a key of :data:`RESNET_FILES`).

        Raises:
            TrainingError: No weights reachable, or the file does not fit the ResNet-50 layout.
        """
        state = load_torchvision_state("ResNet-50", RESNET_FILES[variant], weights)
        ours = set(self.state_dict())
        picked = {k: v for k, v in state.items() if k in ours}
        missing = sorted(ours - set(picked))
        if missing:
            raise TrainingError(f"{weights or RESNET_FILES[variant]} is not a torchvision "
                                f"ResNet-50 checkpoint (no {', '.join(missing[:3])} …): pass "
                                "resnet50-0676ba61.pth or resnet50-11ad3fa6.pth")
        try:
            self.load_state_dict(picked, strict=True)
        except RuntimeError as exc:
            raise TrainingError(f"the weights do not fit the ResNet-50 layout ({exc}): pass "
                                "torchvision's resnet50-0676ba61.pth") from exc
        return self
