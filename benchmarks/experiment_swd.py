"""Bounded experiment (issue 20, item 2): does a sliced-Wasserstein style loss on the random
features carry more of a style image's texture than the Gram loss?

    python benchmarks/experiment_swd.py OUT_DIR [--steps 300] [--loss gram|swd]

Trains ``compact`` on the drawn glass-mosaic style image (the one behind ``psychedelic``) with
the offline random features, replacing only the style loss, then reports the texture statistic
(:mod:`restyle.training.texture`, 1.0 = palette only) on the held-out photos against the style
image, and writes a picture of the results. Not a product feature: the trainer's own style loss
stays the Gram loss.

Sliced Wasserstein (Heitz et al., CVPR 2021): per layer, project the feature vectors of every
position onto random unit directions (redrawn each step), sort, and compare with the style's
sorted projections at the same quantiles — the full 1-D marginals along each direction, not
only their second moments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from _held_out import score_generator
from PIL import Image

from restyle.training import TrainConfig
from restyle.training.data import load_style_image
from restyle.training.features import FeatureNetwork
from restyle.training.procedural import draw_style
from restyle.training.step import TrainingRun


class SlicedWassersteinLoss(torch.nn.Module):
    """Relative squared error between sorted random projections of generated and style
    features, averaged over the style layers."""

    def __init__(self, features: FeatureNetwork, style: torch.Tensor, seed: int = 0) -> None:
        super().__init__()
        with torch.no_grad():
            maps = features(style[None])
        self.layers = features.style_layers
        self.targets = {k: maps[k][0].flatten(1).T for k in self.layers}  # (HW, C)
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, generated: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = []
        for name in self.layers:
            g = generated[name]
            c = g.shape[1]
            dirs = torch.randn(c, c, generator=self.gen)
            dirs = dirs / dirs.norm(dim=0, keepdim=True)
            gp = torch.sort(g.flatten(2).transpose(1, 2) @ dirs, dim=1).values  # (N, HW, C)
            sp = torch.sort(self.targets[name] @ dirs, dim=0).values  # (HWs, C)
            q = torch.linspace(0, sp.shape[0] - 1, gp.shape[1]).round().long()
            target = sp[q][None].expand_as(gp)
            losses.append((gp - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8))
        return torch.stack(losses).mean()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--loss", choices=("gram", "swd"), default="swd")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    style_path = args.out / "mosaic.png"
    draw_style("mosaic", seed=7).save(style_path)
    config = TrainConfig(style=(style_path,), out=args.out / f"run-{args.loss}", arch="compact",
                         size=128, batch_size=4, steps=args.steps, threads=1,
                         preview_every=0, checkpoint_every=0)
    run = TrainingRun(config)
    if args.loss == "swd":
        style = load_style_image(style_path, short_side=128)
        run.style_loss = SlicedWassersteinLoss(run.features, style)  # type: ignore[assignment]
    while run.step < config.steps:
        run.train_step()
    style_image = np.asarray(Image.open(style_path).convert("RGB"))
    scores = score_generator(run.generator, style_image, args.out / f"{args.loss}.png")
    sys.stdout.write(json.dumps({"loss": args.loss, "steps": args.steps, "texture": scores,
                                 "mean": round(float(np.mean(scores)), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
