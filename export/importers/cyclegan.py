"""CycleGAN / pix2pix ``ResnetGenerator`` weights (junyanz layout, ``latest_net_G.pth``).

One ``model`` Sequential (keys ``model.N.…``): reflection-padded 7×7 convolution, two stride-2
convolutions, ``n_blocks`` residual blocks (``conv_block``, optional dropout), two transposed
convolutions, a 7×7 convolution and tanh; InstanceNorm without affine (CycleGAN's default) or
BatchNorm (``--norm batch``). RGB in [-1, 1] in and out; sides must be multiples of 4 (restyle
pads and crops back). Old files keep InstanceNorm running-stat keys, which are dropped.
"""

from __future__ import annotations

import re
from typing import Any

from restyle.export.importers.registry import Detection, register_importer

__all__ = ["CycleGanImporter", "build_resnet_generator"]

_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.1\.weight$")


def build_resnet_generator(*, in_channels: int, out_channels: int, ngf: int, blocks: int,
                           dropout: bool, norm: str) -> Any:
    """The published generator as a restyle generator (RGB [0, 1]), same state-dict keys."""
    from torch import nn

    def norm_layer(c: int) -> nn.Module:
        if norm == "batch":
            return nn.BatchNorm2d(c)
        return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)

    bias = norm != "batch"

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            parts: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=bias),
                                      norm_layer(c), nn.ReLU()]
            if dropout:
                parts.append(nn.Dropout(0.5))
            parts += [nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=bias), norm_layer(c)]
            self.conv_block = nn.Sequential(*parts)

        def forward(self, x: Any) -> Any:
            return x + self.conv_block(x)

    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias),
                               norm_layer(ngf), nn.ReLU()]
    for i in range(2):
        c = ngf * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(2 * c),
                   nn.ReLU()]
    layers += [Block(ngf * 4) for _ in range(blocks)]
    for i in range(2):
        c = ngf * 2 ** (2 - i)
        layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1,
                                      bias=bias), norm_layer(c // 2), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]

    class ResnetGenerator(nn.Module):
        arch = "cyclegan_resnet"
        size_multiple = 4

        def __init__(self) -> None:
            super().__init__()
            self.model = nn.Sequential(*layers)

        def config(self) -> dict[str, Any]:
            return {"ngf": ngf, "blocks": blocks, "dropout": dropout, "norm": norm}

        def forward(self, x: Any) -> Any:
            return (self.model(x * 2.0 - 1.0) + 1.0) * 0.5

    return ResnetGenerator()


@register_importer("cyclegan", kind="torch",
                   title="CycleGAN/pix2pix ResnetGenerator (junyanz layout)")
class CycleGanImporter:
    """Recognises ``model.1.weight`` (7×7) and ``model.N.conv_block`` keys."""

    def detect(self, state: dict[str, Any]) -> Detection | None:
        first = state.get("model.1.weight")
        blocks = sorted(int(m.group(1)) for k in state if (m := _BLOCK.match(k)))
        if first is None or tuple(first.shape[2:]) != (7, 7) or not blocks:
            return None
        if blocks != list(range(10, 10 + len(blocks))):
            return None
        last = f"model.{17 + len(blocks)}.weight"
        if last not in state:
            return None
        ngf, in_channels = int(first.shape[0]), int(first.shape[1])
        norm = "batch" if "model.2.weight" in state else "instance"
        dropout = "model.10.conv_block.6.weight" in state
        config = {"in_channels": in_channels, "out_channels": int(state[last].shape[0]),
                  "ngf": ngf, "blocks": len(blocks), "dropout": dropout, "norm": norm}
        if in_channels != 3 or config["out_channels"] != 3:
            return None
        return Detection("cyclegan", f"CycleGAN/pix2pix ResnetGenerator, junyanz layout (ngf "
                         f"{ngf}, {len(blocks)} residual blocks, {norm} norm"
                         f"{', dropout' if dropout else ''}; [-1, 1] in, tanh out)", config)

    def build(self, state: dict[str, Any], detection: Detection) -> Any:
        net = build_resnet_generator(**detection.config)
        expected = set(net.state_dict())
        # Files saved before PyTorch 0.4 have InstanceNorm running statistics: not weights.
        kept = {k: v for k, v in state.items() if k in expected or not re.search(
            r"\.(running_mean|running_var|num_batches_tracked)$", k)}
        return net, kept
