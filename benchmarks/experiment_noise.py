"""Bounded experiment (issue 20, item 2): can a feed-forward generator draw a style image's cells
where the photo is flat, if it is given a fixed noise pattern to draw them from?

    python benchmarks/experiment_noise.py OUT_DIR --style STYLE.png [--pairs PAIRS]
        [--noise 0|2] [--steps 1500] [--pixel-weight W] [--adversarial-weight W]

A deterministic convolutional generator maps a flat sky to a flat colour: the cells a
patch-transfer teacher draws there (:mod:`restyle.training.effects.patches`) are not a function of
the photo, so an L1-trained student averages them away (measured: docs/training-experiments.md).
Single-image GANs (SinGAN) feed noise at every scale. Here ``compact`` gets two extra input
channels — a fixed white-noise tile and the same tile blurred to blob size (both repeated over
the image, deterministic, so a video frame would not flicker) — and trains either in paired mode
on the teacher's pairs (``--pairs``) or in style mode, with a strong adversarial weight. Reports
the texture statistic (:mod:`restyle.training.texture`, 1.0 = palette only) on the held-out photos
against the style image and writes a picture. Not a product feature: the exported model would
need the pattern inside its graph.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _held_out import score_generator
from PIL import Image
from torch import nn

from restyle.training import TrainConfig
from restyle.training.models.base import ConvLayer
from restyle.training.step import TrainingRun

TILE = 256


class WithNoise(nn.Module):
    """``base`` (a compact generator) fed the photo plus ``channels`` fixed noise channels."""

    def __init__(self, base: nn.Module, channels: int = 2, seed: int = 0) -> None:
        super().__init__()
        self.base = base
        base.encoder[0] = ConvLayer(3 + channels, base.width, 3, padding_mode="zeros")
        gen = torch.Generator().manual_seed(seed)
        white = torch.rand(1, 1, TILE, TILE, generator=gen)
        blob = _blur(white, sigma=6.0)
        blob = (blob - blob.mean()) / blob.std()
        noise = torch.cat([white * 2 - 1, blob], 1)[:, :channels]
        self.register_buffer("noise", noise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        reps = (math.ceil(h / TILE), math.ceil(w / TILE))
        n = self.noise.repeat(1, 1, *reps)[..., :h, :w].expand(x.shape[0], -1, -1, -1)
        return self.base(torch.cat([x, n], 1))  # type: ignore[no-any-return]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma)
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, 1, -1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="circular"), k)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="circular"), k.transpose(2, 3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--pairs", type=Path)
    parser.add_argument("--noise", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--pixel-weight", type=float, default=1.0)
    parser.add_argument("--adversarial-weight", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(style=(args.style,), pairs=args.pairs, out=args.out / "run",
                         arch="compact", size=192, batch_size=4, steps=args.steps,
                         pixel_weight=args.pixel_weight,
                         adversarial_weight=args.adversarial_weight, threads=args.threads,
                         preview_every=0, checkpoint_every=0)
    run = TrainingRun(config)
    if args.noise:
        run.generator = WithNoise(run.generator, args.noise)  # type: ignore[assignment]
        run.opt_g = torch.optim.Adam(run.generator.parameters(), lr=config.lr)
    while run.step < config.steps:
        log = run.train_step()
        if run.step % 100 == 0:
            sys.stderr.write(f"step {run.step} {log}\n")
    style_image = np.asarray(Image.open(args.style).convert("RGB"))
    scores = score_generator(run.generator, style_image, args.out / "results.png")
    sys.stdout.write(json.dumps({"noise": args.noise, "pairs": str(args.pairs),
                                 "steps": args.steps, "texture": scores,
                                 "mean": round(float(np.mean(scores)), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
