"""What a generator architecture costs: parameters, FLOPs per 512×512 frame, receptive field."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from restyle.training.models import Generator, create_model

__all__ = ["Description", "count_flops", "describe", "receptive_field"]


@dataclass(frozen=True)
class Description:
    """An architecture's size and cost."""

    arch: str
    config: dict[str, Any]
    parameters: int
    gflops_512: float
    receptive_field: int
    size_multiple: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """Human-readable lines."""
        cfg = ", ".join(f"{k}={v}" for k, v in self.config.items())
        return "\n".join([
            f"arch             {self.arch} ({cfg})",
            f"parameters       {self.parameters:,}",
            f"GFLOP/512x512    {self.gflops_512:.1f}",
            f"receptive field  {self.receptive_field} px",
            f"size multiple    {self.size_multiple}",
        ])


def count_flops(model: nn.Module, *, size: int = 512) -> int:
    """FLOPs (multiply and add counted separately) of one ``size``×``size`` RGB frame, counted
    by :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 3, size, size))
    return int(counter.get_total_flops())


def receptive_field(model: Generator, *, size: int = 192) -> int:
    """Receptive field in pixels: the extent of input pixels the centre output pixel depends on.

    Measured from gradients on a copy in which normalisation layers and ReLUs are replaced by
    identities (InstanceNorm's mean and variance reach over the whole image and would make every
    pixel count; a ReLU at random weights could hide a dependency). Upsampling, padding and
    strides stay, so the result is exact for convolutional generators smaller than ``size``.
    """
    probe = copy.deepcopy(model).double().eval()
    for name, module in list(probe.named_modules()):
        if isinstance(module, (nn.InstanceNorm2d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU)):
            parent = probe.get_submodule(name.rsplit(".", 1)[0]) if "." in name else probe
            setattr(parent, name.rsplit(".", 1)[-1], nn.Identity())
    x = torch.rand(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    y = probe(x)
    best = 0
    # Strides make the extent depend on the pixel's position modulo the total stride: try each.
    for k in range(model.size_multiple):
        (grad,) = torch.autograd.grad(y[0, :, size // 2 + k, size // 2 + k].sum(), x,
                                      retain_graph=True)
        touched = grad[0].abs().sum(dim=0) > 0
        rows = torch.nonzero(touched.any(dim=1)).flatten()
        cols = torch.nonzero(touched.any(dim=0)).flatten()
        best = max(best, int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
    return best


def describe(arch: str, *, width: int | None = None, blocks: int | None = None) -> Description:
    """Parameters, GFLOP per 512×512 frame and receptive field of an architecture.

    Example:
        >>> d = describe("johnson")
        >>> d.parameters, round(d.gflops_512, 1), d.receptive_field
        (1679235, 80.6, 111)
    """
    kwargs = {k: v for k, v in (("width", width), ("blocks", blocks)) if v is not None}
    model = create_model(arch, **kwargs).eval()
    return Description(
        arch=arch,
        config=model.config(),
        parameters=sum(p.numel() for p in model.parameters()),
        gflops_512=count_flops(model) / 1e9,
        receptive_field=receptive_field(model),
        size_multiple=model.size_multiple,
    )
