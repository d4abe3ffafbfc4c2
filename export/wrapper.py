"""The image I/O a runtime sees, built around a generator as graph nodes.

A generator takes float32 NCHW RGB in [0, 1] whose height and width are multiples of its
``size_multiple``. :class:`ImageIO` turns it into a model of any image size: by default
``image: uint8 [N, H, W, 3]`` in, ``stylized: uint8 [N, H, W, 3]`` out, with the scaling, the layout
change, the reflect-padding to the multiple, the crop back to ``H × W``, the clamping and the
rounding all inside ``forward`` — so an export turns them into ONNX nodes, a runtime moves a
quarter of the bytes of float32 and does no per-pixel work of its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restyle.errors import ConfigError
from restyle.modelinfo import IO_FLOAT32_NCHW, IO_UINT8_NHWC

__all__ = ["IO_LAYOUTS", "ImageIO", "io_names", "pad_to_multiple"]

#: The tensor layouts an export can have (:data:`restyle.modelinfo.IO_UINT8_NHWC` is the default).
IO_LAYOUTS = (IO_UINT8_NHWC, IO_FLOAT32_NCHW)


def io_names(io: str) -> tuple[str, str]:
    """The input and output tensor names of a layout.

    Raises:
        ConfigError: ``io`` is not one of :data:`IO_LAYOUTS`.
    """
    if io not in IO_LAYOUTS:
        raise ConfigError(f"unknown model I/O layout {io!r}: choose one of {', '.join(IO_LAYOUTS)}")
    return ("image", "stylized") if io == IO_UINT8_NHWC else ("input", "output")


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad an NCHW tensor at the bottom and right to multiples of ``multiple``.

    The amounts are computed from the tensor's shape, so under ``torch.export`` they stay
    symbolic and one exported graph serves every size.

    Example:
        >>> pad_to_multiple(torch.zeros(1, 3, 333, 517), 4).shape
        torch.Size([1, 3, 336, 520])
    """
    if multiple <= 1:
        return x
    h, w = x.shape[-2], x.shape[-1]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), mode="reflect")


class ImageIO(nn.Module):
    """A generator behind a runtime-friendly interface: same-size output for every input size.

    Args:
        generator: Float32 NCHW [0, 1] → float32 NCHW [0, 1] (a restyle generator).
        size_multiple: Height and width the generator needs multiples of (4 for ``johnson``).
        io: :data:`~restyle.modelinfo.IO_UINT8_NHWC` (``uint8 [N, H, W, 3]`` in and out) or
            :data:`~restyle.modelinfo.IO_FLOAT32_NCHW` (``float32 [N, 3, H, W]`` in [0, 1]).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid())
        >>> model = ImageIO(net, size_multiple=4).eval()
        >>> model(torch.zeros(2, 333, 517, 3, dtype=torch.uint8)).shape
        torch.Size([2, 333, 517, 3])
    """

    def __init__(
        self, generator: nn.Module, *, size_multiple: int, io: str = IO_UINT8_NHWC
    ) -> None:
        super().__init__()
        io_names(io)
        if size_multiple < 1:
            raise ConfigError(f"size_multiple must be ≥ 1, got {size_multiple}")
        self.generator = generator
        self.size_multiple = int(size_multiple)
        self.io = io

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.io == IO_UINT8_NHWC:
            x = image.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        else:
            x = image
        h, w = x.shape[-2], x.shape[-1]
        y = self.generator(pad_to_multiple(x, self.size_multiple))[:, :, :h, :w]
        if self.io == IO_UINT8_NHWC:
            y = torch.round(torch.clamp(y * 255.0, 0.0, 255.0)).to(torch.uint8)
            return y.permute(0, 2, 3, 1)
        return torch.clamp(y, 0.0, 1.0)

    def example_input(self, *, batch: int = 2, height: int = 64, width: int = 96) -> torch.Tensor:
        """A random input of this layout, for tracing (batch ≥ 2 keeps the batch size dynamic)."""
        if self.io == IO_UINT8_NHWC:
            return torch.randint(0, 256, (batch, height, width, 3), dtype=torch.uint8)
        return torch.rand(batch, 3, height, width)
