"""Johnson et al. 2016, "Perceptual losses for real-time style transfer": the reference network.

Reflection-padded convolutions with InstanceNorm (Ulyanov et al.): a 9×9 convolution, two
stride-2 3×3 convolutions, ``blocks`` residual blocks at 1/4 resolution, two upsample-then-convolve
stages and a 9×9 output convolution. Defaults (``width=32, blocks=5``): 1.68 M parameters,
80.6 GFLOP per 512×512 frame, receptive field 111 px. A GPU model: slow on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from restyle.training.models.base import (
    ConvLayer,
    Generator,
    ResidualBlock,
    UpsampleConvLayer,
    to_unit_range,
)
from restyle.training.models.registry import register_model

__all__ = ["Johnson"]


@register_model("johnson")
class Johnson(Generator):
    """The Johnson et al. transformation network.

    Args:
        width: Channels of the first layer; the others use 2× and 4× of it.
        blocks: Residual blocks at 1/4 resolution.

    Example:
        >>> import torch
        >>> net = Johnson(width=8, blocks=1)
        >>> net(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    size_multiple = 4

    def __init__(self, width: int = 32, blocks: int = 5) -> None:
        super().__init__(width, blocks)
        w = self.width
        self.encoder = nn.Sequential(
            ConvLayer(3, w, 9),
            ConvLayer(w, 2 * w, 3, stride=2),
            ConvLayer(2 * w, 4 * w, 3, stride=2),
        )
        self.residuals = nn.Sequential(*(ResidualBlock(4 * w) for _ in range(self.blocks)))
        self.decoder = nn.Sequential(
            UpsampleConvLayer(4 * w, 2 * w),
            UpsampleConvLayer(2 * w, w),
            ConvLayer(w, 3, 9, norm=False, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit_range(self.decoder(self.residuals(self.encoder(x))))
