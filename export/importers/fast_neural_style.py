"""pytorch/examples ``fast_neural_style`` state dicts (``candy.pth``, ``mosaic.pth``, ``*.model``).

The published ``TransformerNet``: reflection-padded convolutions with affine InstanceNorm (keys
``conv1.conv2d.weight``, ``in1.weight`` …, ``res1``–``res5``, ``deconv1``–``deconv3``), nearest ×2
upsampling before ``deconv1``/``deconv2``; float32 NCHW in 0–255 in, unclamped 0–255 out. Old
checkpoints carry ``in*.running_mean`` / ``running_var`` keys that current PyTorch refuses; they
are dropped, as the project's own ``neural_style.py`` does.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

from restyle.export.importers.registry import Detection, register_importer

__all__ = ["FastNeuralStyleImporter", "build_transformer_net"]

_RUNNING = re.compile(r"in\d+\.(running_mean|running_var|num_batches_tracked)$")
_RES = re.compile(r"^res(\d+)\.conv1\.conv2d\.weight$")


def build_transformer_net(width: int, blocks: int) -> Any:
    """The published layout as a restyle generator (RGB [0, 1] in and out), same state-dict keys.

    Convolutions are ``Sequential(reflection_pad, conv2d)`` and the upsampling layers
    ``Sequential(upsample, reflection_pad, conv2d)``, so :mod:`restyle.export.rewrite` folds them.
    """
    from torch import nn

    def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(OrderedDict(reflection_pad=nn.ReflectionPad2d(k // 2),
                                         conv2d=nn.Conv2d(cin, cout, k, stride)))

    def upconv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
        return nn.Sequential(OrderedDict(upsample=nn.Upsample(scale_factor=2.0, mode="nearest"),
                                         reflection_pad=nn.ReflectionPad2d(k // 2),
                                         conv2d=nn.Conv2d(cin, cout, k)))

    class Residual(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv1, self.in1 = conv(c, c, 3), nn.InstanceNorm2d(c, affine=True)
            self.conv2, self.in2 = conv(c, c, 3), nn.InstanceNorm2d(c, affine=True)
            self.relu = nn.ReLU()

        def forward(self, x: Any) -> Any:
            return self.in2(self.conv2(self.relu(self.in1(self.conv1(x))))) + x

    class TransformerNet(nn.Module):
        size_multiple = 4
        arch = "fast_neural_style"

        def __init__(self) -> None:
            super().__init__()
            w = width
            self.conv1, self.in1 = conv(3, w, 9), nn.InstanceNorm2d(w, affine=True)
            self.conv2, self.in2 = conv(w, 2 * w, 3, 2), nn.InstanceNorm2d(2 * w, affine=True)
            self.conv3, self.in3 = conv(2 * w, 4 * w, 3, 2), nn.InstanceNorm2d(4 * w, affine=True)
            for i in range(1, blocks + 1):
                self.add_module(f"res{i}", Residual(4 * w))
            self.deconv1, self.in4 = upconv(4 * w, 2 * w), nn.InstanceNorm2d(2 * w, affine=True)
            self.deconv2, self.in5 = upconv(2 * w, w), nn.InstanceNorm2d(w, affine=True)
            self.deconv3 = conv(w, 3, 9)
            self.relu = nn.ReLU()

        def config(self) -> dict[str, Any]:
            return {"width": width, "blocks": blocks}

        def forward(self, x: Any) -> Any:
            y = x * 255.0  # the project's input range
            y = self.relu(self.in1(self.conv1(y)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            for i in range(1, blocks + 1):
                y = getattr(self, f"res{i}")(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            return self.deconv3(y) / 255.0

    return TransformerNet()


@register_importer("fast_neural_style", kind="torch",
                   title="pytorch/examples fast_neural_style TransformerNet state dict")
class FastNeuralStyleImporter:
    """Recognises the published ``TransformerNet`` keys; any width and number of blocks."""

    def detect(self, state: dict[str, Any]) -> Detection | None:
        needed = ("conv1.conv2d.weight", "in1.weight", "deconv1.conv2d.weight",
                  "deconv3.conv2d.weight")
        if not all(k in state for k in needed):
            return None
        width = int(state["conv1.conv2d.weight"].shape[0])
        blocks = sum(1 for k in state if _RES.match(k))
        stale = sorted(k for k in state if _RUNNING.search(k))
        summary = (f"pytorch/examples fast_neural_style TransformerNet (width {width}, {blocks} "
                   "residual blocks; 0–255 NCHW in, unclamped out)")
        if stale:
            summary += (f"; an old checkpoint: {len(stale)} InstanceNorm running-stat keys "
                        "dropped")
        return Detection("fast_neural_style", summary, {"width": width, "blocks": blocks})

    def build(self, state: dict[str, Any], detection: Detection) -> Any:
        """The generator with ``state`` loaded (running-stat keys dropped)."""
        net = build_transformer_net(**detection.config)
        kept = {k: v for k, v in state.items() if not _RUNNING.search(k)}
        return net, kept
