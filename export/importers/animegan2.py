"""AnimeGANv2 PyTorch generators in the bryandlee/animegan2-pytorch layout (``paprika.pt`` …).

``block_a`` … ``block_e`` of reflection-padded ``Conv → GroupNorm(1 group) → LeakyReLU(0.2)``
units with inverted residual blocks in ``block_c``, bilinear upsampling back to full size, a 1×1
output convolution and tanh; RGB in [-1, 1] in and out. The project's ``test.py`` upsamples by ×2
without aligned corners (the default here; sides then need multiples of 4), its ``hubconf.py``
to the exact size with aligned corners (``align_corners=True``: any size).
"""

from __future__ import annotations

from typing import Any

from restyle.export.importers.registry import Detection, register_importer

__all__ = ["AnimeGan2Importer", "build_animegan2"]


def build_animegan2(align_corners: bool = False) -> Any:
    """The published generator as a restyle generator (RGB [0, 1]), same state-dict keys."""
    import torch.nn.functional as F
    from torch import nn

    def unit(cin: int, cout: int, k: int = 3, stride: int = 1, pad: Any = 1, groups: int = 1,
             bias: bool = False) -> nn.Sequential:
        return nn.Sequential(nn.ReflectionPad2d(pad),
                             nn.Conv2d(cin, cout, k, stride=stride, groups=groups, bias=bias),
                             nn.GroupNorm(1, cout), nn.LeakyReLU(0.2))

    class InvertedRes(nn.Module):
        def __init__(self, cin: int, cout: int, expansion: int = 2) -> None:
            super().__init__()
            mid = cin * expansion
            self.residual = cin == cout
            self.layers = nn.Sequential(unit(cin, mid, 1, pad=0),
                                        unit(mid, mid, groups=mid, bias=True),
                                        nn.Conv2d(mid, cout, 1, bias=False), nn.GroupNorm(1, cout))

        def forward(self, x: Any) -> Any:
            y = self.layers(x)
            return x + y if self.residual else y

    class AnimeGan2(nn.Module):
        arch = "animegan2"
        size_multiple = 1 if align_corners else 4

        def __init__(self) -> None:
            super().__init__()
            self.block_a = nn.Sequential(unit(3, 32, 7, pad=3), unit(32, 64, stride=2,
                                                                       pad=(0, 1, 0, 1)),
                                         unit(64, 64))
            self.block_b = nn.Sequential(unit(64, 128, stride=2, pad=(0, 1, 0, 1)),
                                         unit(128, 128))
            self.block_c = nn.Sequential(unit(128, 128), InvertedRes(128, 256),
                                         *(InvertedRes(256, 256) for _ in range(3)),
                                         unit(256, 128))
            self.block_d = nn.Sequential(unit(128, 128), unit(128, 128))
            self.block_e = nn.Sequential(unit(128, 64), unit(64, 64), unit(64, 32, 7, pad=3))
            self.out_layer = nn.Sequential(nn.Conv2d(32, 3, 1, bias=False), nn.Tanh())

        def config(self) -> dict[str, Any]:
            return {"align_corners": align_corners}

        def _up(self, x: Any, size: Any) -> Any:
            if align_corners:
                return F.interpolate(x, size, mode="bilinear", align_corners=True)
            return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

        def forward(self, x: Any) -> Any:
            y = self.block_a(x * 2.0 - 1.0)
            half = y.shape[-2:]
            y = self.block_c(self.block_b(y))
            y = self.block_d(self._up(y, half))
            y = self.out_layer(self.block_e(self._up(y, x.shape[-2:])))
            return (y + 1.0) * 0.5

    return AnimeGan2()


@register_importer("animegan2", kind="torch",
                   title="AnimeGANv2 generator (bryandlee/animegan2-pytorch layout)")
class AnimeGan2Importer:
    """Recognises ``block_a`` … ``block_e`` and ``out_layer`` keys with GroupNorm weights."""

    def __init__(self, *, align_corners: bool = False) -> None:
        self.align_corners = align_corners

    def detect(self, state: dict[str, Any]) -> Detection | None:
        needed = ("block_a.0.1.weight", "block_a.0.2.weight", "block_c.1.layers.0.1.weight",
                  "block_e.2.1.weight", "out_layer.0.weight")
        if not all(k in state for k in needed):
            return None
        mode = "aligned-corner upsampling to the exact size" if self.align_corners else \
            "×2 bilinear upsampling as in test.py"
        return Detection("animegan2", f"AnimeGANv2 generator, bryandlee/animegan2-pytorch layout "
                         f"(GroupNorm, {mode}; [-1, 1] in, tanh out)",
                         {"align_corners": self.align_corners})

    def build(self, state: dict[str, Any], detection: Detection) -> Any:
        return build_animegan2(**detection.config), dict(state)
