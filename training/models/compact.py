"""``compact``: a generator for CPUs and embedded devices.

Johnson et al.'s layout made slim: channels 16/32/64, three residual blocks, 3×3 first and last
convolutions, InstanceNorm kept (it is what makes feed-forward stylisation look right), and zero
padding inside each convolution instead of reflection padding, which exports as a separate Pad node
and costs a pass over memory per layer. Defaults: 270 k parameters, 13.7 GFLOP per 512×512 frame,
receptive field 65 px. Through ONNX Runtime on 2 CPU cores at 512×512 it ran at 8.9× the frames/s
of ``johnson`` on an idle machine and 5.4× beside another job (``benchmarks/bench_training.py``
measures the ratio).
"""

from __future__ import annotations

import torch
from torch import nn

from restyle.training.models.base import (
    ConvLayer,
    Generator,
    PaddingMode,
    ResidualBlock,
    UpsampleConvLayer,
    to_unit_range,
)
from restyle.training.models.registry import register_model

__all__ = ["Compact"]

_PAD: PaddingMode = "zeros"


@register_model("compact")
class Compact(Generator):
    """The compact CPU generator.

    Args:
        width: Channels at full resolution; 1/2 and 1/4 resolution use 2× and 4× of it.
        blocks: Residual blocks at 1/4 resolution.

    Example:
        >>> import torch
        >>> net = Compact(width=4, blocks=1)
        >>> net(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    size_multiple = 4

    def __init__(self, width: int = 16, blocks: int = 3) -> None:
        super().__init__(width, blocks)
        w = self.width
        self.encoder = nn.Sequential(
            ConvLayer(3, w, 3, padding_mode=_PAD),
            ConvLayer(w, 2 * w, 3, stride=2, padding_mode=_PAD),
            ConvLayer(2 * w, 4 * w, 3, stride=2, padding_mode=_PAD),
        )
        self.residuals = nn.Sequential(
            *(ResidualBlock(4 * w, padding_mode=_PAD) for _ in range(self.blocks))
        )
        self.decoder = nn.Sequential(
            UpsampleConvLayer(4 * w, 2 * w, padding_mode=_PAD),
            UpsampleConvLayer(2 * w, w, padding_mode=_PAD),
            ConvLayer(w, 3, 3, norm=False, relu=False, padding_mode=_PAD),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit_range(self.decoder(self.residuals(self.encoder(x))))
