"""``realtime``: a generator for 30 frames/s at 512×512 on a small CPU.

Three stride-2 convolutions take the image to 1/8 resolution, where ``blocks`` residual blocks
(with InstanceNorm, cheap at 1/8) do the work; an upsample-then-convolve decoder returns to full
resolution. Detail reaches the output past the 1/8 body through U-Net-style skip additions (the
encoder's 1/2 and 1/4 features are added to the decoder's) and a full-resolution detail path (one
3×3 convolution of the input added to the output logits); they cost additions, not convolutions.
Zero padding inside each convolution (no Pad nodes) and no normalisation above 1/8 resolution
keep the exported graph fused, and the export folds each upsample + convolution pair into one
transposed convolution (:mod:`restyle.export.rewrite`). Defaults (``width=16, blocks=3``): 270 k
parameters, 1.8 GMAC (3.6 GFLOP) per 512×512 frame as trained, receptive field 127 px. Through
ONNX Runtime on 2 CPU cores (uint8 I/O, batch 1, 512×512, quiet machine) the export runs at
36 frames/s, 22.6× ``johnson`` (1.61 frames/s) in the same run; before the fold it ran at 28.
``benchmarks/bench_realtime.py`` measures it. The speed costs look when it learns from a style
image directly (softer than ``compact``, and an 8-px dash texture in long runs); learnt from
pairs — an effect (the bundled ``ink``) or a ``compact`` teacher (``restyle train --teacher``) —
it looks like its target.
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

__all__ = ["Realtime"]

_PAD: PaddingMode = "zeros"


def _down(in_channels: int, out_channels: int) -> ConvLayer:
    return ConvLayer(in_channels, out_channels, 3, stride=2, norm=False, padding_mode=_PAD)


def _up(in_channels: int, out_channels: int, *, relu: bool = True) -> UpsampleConvLayer:
    return UpsampleConvLayer(in_channels, out_channels, norm=False, relu=relu, padding_mode=_PAD)


@register_model("realtime")
class Realtime(Generator):
    """The realtime CPU generator.

    Args:
        width: Channels at 1/2 resolution; 1/4 and 1/8 resolution use 2× and 4× of it.
        blocks: Residual blocks at 1/8 resolution.

    Example:
        >>> import torch
        >>> net = Realtime(width=4, blocks=1)
        >>> net(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    size_multiple = 8

    def __init__(self, width: int = 16, blocks: int = 3) -> None:
        super().__init__(width, blocks)
        w = self.width
        self.down1, self.down2, self.down3 = _down(3, w), _down(w, 2 * w), _down(2 * w, 4 * w)
        self.residuals = nn.Sequential(
            *(ResidualBlock(4 * w, padding_mode=_PAD) for _ in range(self.blocks))
        )
        self.up3, self.up2 = _up(4 * w, 2 * w), _up(2 * w, w)
        self.up1 = _up(w, 3, relu=False)
        self.detail = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.down1(x)
        quarter = self.down2(half)
        body = self.residuals(self.down3(quarter))
        quarter = self.up3(body) + quarter
        half = self.up2(quarter) + half
        return to_unit_range(self.up1(half) + self.detail(x))
