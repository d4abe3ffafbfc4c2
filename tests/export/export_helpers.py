"""Tiny real generators for the export tests (a few hundred parameters, exported in seconds)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: Small shapes for the shared export's ONNX Runtime vs PyTorch check; one is not a multiple of 4.
QUICK_SHAPES = ((1, 32, 32), (3, 37, 53))


class TinyGenerator(nn.Module):
    """The operators of a real style network at a few hundred parameters: reflection padding,
    convolutions, InstanceNorm, a stride-2 stage, upsample-then-convolve and a tanh output."""

    arch = "tiny"
    size_multiple = 4

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.width = width
        w = width

        def conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
            return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3, stride=stride),
                    nn.InstanceNorm2d(cout, affine=True), nn.ReLU()]

        self.body = nn.Sequential(
            *conv(3, w), *conv(w, 2 * w, stride=2), *conv(2 * w, 2 * w, stride=2),
            nn.Upsample(scale_factor=2.0, mode="nearest"), *conv(2 * w, w),
            nn.Upsample(scale_factor=2.0, mode="nearest"), *conv(w, w),
            nn.ReflectionPad2d(1), nn.Conv2d(w, 3, 3),
        )
        with torch.no_grad():  # varied InstanceNorm affine values, as after training
            for m in self.modules():
                if isinstance(m, nn.InstanceNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.3, 0.3)

    def config(self) -> dict[str, Any]:
        return {"width": self.width}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (torch.tanh(self.body(x)) + 1.0)


def make_tiny(seed: int = 0) -> TinyGenerator:
    torch.manual_seed(seed)
    return TinyGenerator().eval()
