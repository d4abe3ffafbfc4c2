"""The generator base class and the named building blocks the architectures share."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import nn

from restyle.errors import ConfigError

PaddingMode = Literal["zeros", "reflect"]

__all__ = [
    "ConvLayer",
    "Generator",
    "PaddingMode",
    "ResidualBlock",
    "UpsampleConvLayer",
    "to_unit_range",
]


#: Largest generator ``width`` (channels at full resolution) and residual ``blocks`` accepted:
#: far above any useful style network, far below what would exhaust a machine's memory.
MAX_WIDTH = 512
MAX_BLOCKS = 64


def _bounded(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"generator {name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"generator {name}={value} is outside {low}..{high}: choose a value "
                          "in that range (the architecture's default suits most styles)")
    return value


class Generator(nn.Module):
    """A feed-forward style generator: RGB in [0, 1] → RGB in [0, 1], NCHW float32.

    Every architecture is sized by a ``width`` (channels) and a number of residual ``blocks``,
    checked and kept here; :meth:`config` returns them, the JSON-serialisable constructor
    arguments. Subclasses set ``size_multiple`` (height and width must be multiples of it).
    ``arch`` is set by :func:`~restyle.training.models.register_model`.
    """

    arch: ClassVar[str] = ""
    size_multiple: ClassVar[int] = 1

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        # The one check of a generator's size, whoever asks for it: the CLI, a checkpoint, or
        # the arch_config of an ONNX file being re-exported. It runs before any weight exists.
        self.width = _bounded("width", width, 1, MAX_WIDTH)
        self.blocks = _bounded("blocks", blocks, 0, MAX_BLOCKS)

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this architecture."""
        return {"width": self.width, "blocks": self.blocks}


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Scaled tanh: any real → (0, 1), as in Johnson et al.'s output layer."""
    return 0.5 * (torch.tanh(x) + 1.0)


class ConvLayer(nn.Sequential):
    """Same-size (or stride-``s``) convolution, optional InstanceNorm, optional ReLU.

    ``padding_mode="reflect"`` is the classic choice; ``"zeros"`` keeps the padding inside the
    ONNX Conv node, which is much faster on CPU runtimes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        norm: bool = True,
        relu: bool = True,
        padding_mode: PaddingMode = "reflect",
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, padding_mode=padding_mode)
        ]
        if norm:
            layers.append(nn.InstanceNorm2d(out_channels, affine=True))
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class UpsampleConvLayer(nn.Sequential):
    """Nearest-neighbour ×2 upsampling, then a :class:`ConvLayer`: no checkerboard artefacts in
    training. The export folds the pair into one exact transposed convolution
    (:mod:`restyle.export.rewrite`), which runs faster."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, *,
        norm: bool = True, relu: bool = True, padding_mode: PaddingMode = "reflect",
    ) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2.0, mode="nearest"),
            ConvLayer(in_channels, out_channels, kernel_size, norm=norm, relu=relu,
                      padding_mode=padding_mode),
        )


class ResidualBlock(nn.Module):
    """Two 3×3 :class:`ConvLayer` s (the second without ReLU) plus the identity."""

    def __init__(self, channels: int, *, padding_mode: PaddingMode = "reflect") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3, padding_mode=padding_mode),
            ConvLayer(channels, channels, 3, relu=False, padding_mode=padding_mode),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.body(x)
        return out
