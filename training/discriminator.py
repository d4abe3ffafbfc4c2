"""A small PatchGAN discriminator: which patches look like the style image(s)?

In paired mode it is conditional, as in pix2pix: it sees the photo and the image beside it
(6 channels) and judges whether the pair is a real (photo, target) example.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["PatchDiscriminator", "set_requires_grad"]


class PatchDiscriminator(nn.Module):
    """Stride-2 4×4 convolutions with spectral norm and LeakyReLU, then a 3×3 logit map.

    Each output logit judges one patch: its receptive field is 38 px with the default three
    stages, 78 px with four, 158 px with five (``5·2^stages - 2``).

    Args:
        width: Channels of the first stage; each later stage doubles them.
        stages: Stride-2 stages.
        in_channels: 3 for images; 6 for (photo, result) pairs, concatenated on channels.

    Example:
        >>> d = PatchDiscriminator(width=8)
        >>> d(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, width: int = 32, stages: int = 3, *, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(stages):
            out = width * 2**i
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            channels = out
        layers.append(spectral_norm(nn.Conv2d(channels, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(images * 2.0 - 1.0)
        return out


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze (``False``) or unfreeze a network's parameters, as CycleGAN does around its
    generator step."""
    for p in module.parameters():
        p.requires_grad_(flag)
