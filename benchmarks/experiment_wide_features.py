"""Bounded experiment (issue 20, item 2): do random features with *larger filters*, or a *deeper*
random network, carry more of a style image's structure than the default ones?

    python benchmarks/experiment_wide_features.py STYLE.png OUT_DIR [--steps 1500]
        [--kernels 3,5,7,11,15] [--filters 32] [--scales 2,4,8] [--style-weight 10] [--deep]

Ustyuzhaninov et al. (ICLR 2017) synthesised textures from one layer of random filters only when
the filters were large (their best setting went up to 55 px); restyle's default random features
(:class:`restyle.training.features.RandomFeatures`) use 3/5/7-px filters on the image pooled by
2/4/8 — a CPU budget. A filter only 7 px wide on an 8× pooled image spans 56 px, but it sees the
pooled (blurred) image, where a thin line such as a mosaic's grout is gone. Larger filters on a
finer scale keep thin lines and span a cell. A filter has 3 input channels, so its cost grows
with its area but stays small next to the generator's.

``--deep`` adds a four-layer random network beside them (3×3 convolutions, 32/64/128/128 channels,
ReLU, 2× average pooling between layers, He-scaled Gaussian weights; Gram loss on every layer):
a unit of its last layer sees 46 px of the image through a chain of nonlinearities, so it can
respond to *arrangements* of edges (a cell's closed outline) that one linear filter cannot.

Trains ``compact`` (192-px crops, batch 4, 2 threads) on ``STYLE.png`` with the features given,
everything else as ``restyle train --style STYLE.png --arch compact``, then prints the texture
statistic (:mod:`restyle.training.texture`, 1.0 = palette only) on the held-out photos and
writes a picture of the results. Not a product feature.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import torch
from _held_out import score_generator, train_to_end
from PIL import Image
from torch import nn
from torch.nn import functional as F

from restyle.training import TrainConfig
from restyle.training.features import FeatureNetwork, RandomFeatures
from restyle.training.losses import StyleLoss
from restyle.training.step import TrainingRun


class WithDeep(FeatureNetwork):
    """``shallow``'s maps plus those of a seeded four-layer random network."""

    def __init__(self, shallow: RandomFeatures, seed: int = 1) -> None:
        super().__init__()
        self.shallow = shallow
        gen = torch.Generator().manual_seed(seed)
        widths = (3, 32, 64, 128, 128)
        self.convs = nn.ModuleList()
        for cin, cout in itertools.pairwise(widths):
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            conv.weight = nn.Parameter(torch.randn(cout, cin, 3, 3, generator=gen)
                                       * (2.0 / (cin * 9)) ** 0.5)
            conv.bias = nn.Parameter(torch.zeros(cout))
            self.convs.append(conv)
        self.style_layers = (*shallow.style_layers,
                             *(f"deep{i + 1}" for i in range(len(self.convs))))
        self.content_layers = ()
        self.freeze()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.shallow(x)
        h = x * 2.0 - 1.0
        for i, conv in enumerate(self.convs):
            if i:
                h = F.avg_pool2d(h, 2)
            h = F.relu(conv(h))
            out[f"deep{i + 1}"] = h
        return out


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("style", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--kernels", type=_ints, default=(3, 5, 7, 11, 15))
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--scales", type=_ints, default=(2, 4, 8))
    parser.add_argument("--style-weight", type=float, default=10.0)
    parser.add_argument("--deep", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(style=(args.style,), out=args.out / "run", arch="compact", size=192,
                         batch_size=4, steps=args.steps, threads=2, style_weight=args.style_weight,
                         preview_every=0, checkpoint_every=0)
    run = TrainingRun(config)
    shallow = RandomFeatures(kernel_sizes=args.kernels, filters=(args.filters,) * len(args.kernels),
                             scales=args.scales)
    run.features = (WithDeep(shallow) if args.deep else shallow).to(run.device)
    run.style_loss = StyleLoss.from_images(run.features,
                                           [s.to(run.device) for s in run.styles])
    seconds_per_step = train_to_end(run)
    style_image = np.asarray(Image.open(args.style).convert("RGB"))
    scores = score_generator(run.generator, style_image, args.out / "sheet.png")
    sys.stdout.write(json.dumps({
        "kernels": args.kernels, "filters": args.filters, "scales": args.scales,
        "style_weight": args.style_weight, "deep": args.deep, "steps": args.steps,
        "seconds_per_step": round(seconds_per_step, 3), "texture": scores,
        "mean": round(float(np.mean(scores)), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
