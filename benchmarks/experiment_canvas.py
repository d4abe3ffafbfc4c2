"""Bounded experiment (issue 20, item 2): a generator that is *given the style's texture* as an
input — a "canvas" of the style image tiled over the frame — and learns how to lay the photo
into it.

    python benchmarks/experiment_canvas.py STYLE.png OUT_DIR [--steps 1500] [--style-weight 40]
        [--adversarial 0] [--content-weight 1] [--coarse-content BLOCK] [--no-canvas]
        [--d-stages 3] [--crop PX] [--style-size PX] [--cell-content] [--threads 2]

Why: a large closed shape (a mosaic cell, a round dot) in a flat area of the photo is not a
function of the photo, so a deterministic generator cannot draw it from the photo alone; the
noise inputs tried before (``experiment_noise.py``) gave it something to draw from but nothing
that looked like a cell. Here the thing to draw from *is* the style's structure: the style image,
mirrored into a periodic tile, at a random offset per training sample (so the generator cannot
learn the tile's layout), concatenated to the photo as three more input channels of
``compact``. The losses are the plain style-image path's (content + Gram on random features),
with the patch discriminator on style crops at ``--adversarial``; ``--coarse-content BLOCK``
moves the content loss from 2-px to BLOCK-px luminance blocks (``TrainConfig.content_block``);
``--d-stages`` sets the discriminator's stages (``TrainConfig.discriminator_stages``: 3 judges
38-px patches, 4 78-px; session 10); ``--cell-content`` compares each canvas cell's mean
luminance with the photo's under it instead (:class:`CellContent`); ``--no-canvas`` is the
control.
Prints the texture statistic and the content correlation on the held-out photos and writes a
strip of the results (docs/training-experiments.md, "Session 9" and "Session 10"). Not a
product feature.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from _held_out import render_held_out, score_results, train_to_end
from PIL import Image

from restyle.training import TrainConfig
from restyle.training.losses import ContentLoss, luminance
from restyle.training.models.base import ConvLayer
from restyle.training.models.compact import Compact
from restyle.training.step import TrainingRun
from restyle.training.texture import content_correlation


class CanvasCompact(torch.nn.Module):
    """``compact`` whose first layer also sees a periodic canvas of the style image."""

    size_multiple = 4

    def __init__(self, canvas: torch.Tensor, width: int = 16, blocks: int = 3) -> None:
        super().__init__()
        self.net = Compact(width, blocks)
        self.net.encoder[0] = ConvLayer(6, width, 3, padding_mode="zeros")
        # mirror the style image into a tile that repeats without jumps: [s, flip_x(s)] ...
        row = torch.cat([canvas, canvas.flip(-1)], dim=-1)
        self.register_buffer("tile", torch.cat([row, row.flip(-2)], dim=-2))
        #: (rows, cols) of the tile under each sample of the last training batch (CellContent)
        self.places: list[tuple[torch.Tensor, torch.Tensor]] = []

    def canvas_for(self, x: torch.Tensor) -> torch.Tensor:
        """The periodic canvas over ``x``'s frame: at a random offset per sample in training, at
        the origin in eval (by modular indices, so it exports to ONNX with any frame size)."""
        n, _, h, w = x.shape
        th, tw = self.tile.shape[-2:]
        rows, cols = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
        if not self.training:
            canvas = self.tile[:, rows % th][:, :, cols % tw]
            return canvas.unsqueeze(0).expand(n, -1, -1, -1)
        self.places = []
        for _ in range(n):
            top, left = int(torch.randint(th, ())), int(torch.randint(tw, ()))
            self.places.append(((rows + top) % th, (cols + left) % tw))
        return torch.stack([self.tile[:, r][:, :, c] for r, c in self.places])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, self.canvas_for(x)], dim=1))


class CellContent(torch.nn.Module):
    """Content per canvas cell: each cell's mean standardised luminance against the photo's
    mean under the same cell, weighted by the cell's area; the grout (dark lines of the style
    image) is free. So a cell may be one flat colour, and the photo's layout is kept at the
    cells' own scale."""

    def __init__(self, generator: CanvasCompact, grout: float = 0.2) -> None:
        super().__init__()
        from scipy import ndimage

        lum = luminance(generator.tile[None])[0, 0].numpy()
        labels, self.cells = ndimage.label(lum > grout)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.generator = generator

    def forward(self, generated: torch.Tensor, content: torch.Tensor,
                *_: object) -> torch.Tensor:
        layout = ContentLoss.standardised_luminance
        gen, photo = layout(generated, 1).flatten(1), layout(content, 1).flatten(1)
        losses = []
        for i, (rows, cols) in enumerate(self.generator.places):
            lab = self.labels[rows][:, cols].flatten()
            both = torch.stack([gen[i], photo[i]])
            count = torch.zeros(self.cells + 1).index_add_(0, lab, torch.ones_like(gen[i]))[1:]
            sums = torch.zeros(2, self.cells + 1).index_add_(1, lab, both)[:, 1:]
            keep = count > 0
            means = sums[:, keep] / count[keep]
            weight = count[keep] / count[keep].sum()
            losses.append((weight * (means[0] - means[1]) ** 2).sum())
        return torch.stack(losses).mean()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("style", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--style-weight", type=float, default=40.0)
    parser.add_argument("--adversarial", type=float, default=0.0)
    parser.add_argument("--content-weight", type=float, default=1.0)
    parser.add_argument("--coarse-content", type=int, default=2, metavar="BLOCK",
                        help="the luminance content loss at BLOCK-px blocks (default 2, the "
                             "product's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crop", type=int, default=None,
                        help="side of the crops the discriminator judges (default "
                             "2^(stages + 3): 64 for 3 stages, 128 for 4)")
    parser.add_argument("--d-stages", type=int, default=3,
                        help="stride-2 stages of the discriminator (3: 38-px patches, 4: 78)")
    parser.add_argument("--style-size", type=int, default=None,
                        help="the style image's shorter side in training (default its own)")
    parser.add_argument("--cell-content", action="store_true",
                        help="content loss per canvas cell (CellContent) instead of blocks")
    parser.add_argument("--no-canvas", action="store_true",
                        help="the control: plain compact, the same losses")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(style=(args.style,), out=args.out / "run", arch="compact", size=192,
                         batch_size=4, steps=args.steps, threads=args.threads,
                         style_weight=args.style_weight, adversarial_weight=args.adversarial,
                         content_weight=args.content_weight, crop=args.crop,
                         discriminator_stages=args.d_stages,
                         content_block=args.coarse_content,
                         style_size=args.style_size, preview_every=0, checkpoint_every=0)
    run = TrainingRun(config)
    if not args.no_canvas:
        canvas = run.styles[0]
        run.generator = CanvasCompact(canvas.cpu()).to(run.device)  # type: ignore[assignment]
        run.generator.train()
        run.opt_g = torch.optim.Adam(run.generator.parameters(), lr=config.lr)
        if args.cell_content:
            run.content_loss = CellContent(run.generator)  # type: ignore[assignment]
    seconds_per_step = train_to_end(run)
    torch.save(run.generator.state_dict(), args.out / "generator.pt")
    style_image = np.asarray(Image.open(args.style).convert("RGB"))
    results = render_held_out(run.generator)
    scores = score_results(results, style_image, args.out / "sheet.png")
    contents = [round(content_correlation(photo, result), 2) for photo, result in results]
    sys.stdout.write(json.dumps({
        "canvas": not args.no_canvas, "coarse_content": args.coarse_content,
        "cell_content": args.cell_content,
        "content_weight": args.content_weight,
        "style_weight": args.style_weight, "adversarial": args.adversarial,
        "steps": args.steps, "crop": run.crop, "d_stages": args.d_stages,
        "style_size": args.style_size, "seconds_per_step": round(seconds_per_step, 3),
        "texture": scores, "mean": round(float(np.mean(scores)), 2),
        "content": contents, "content_mean": round(float(np.mean(contents)), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
