"""Bounded experiment (issue 20, item 2): a student that is not asked to put the teacher's cells
where the teacher put them.

    python benchmarks/experiment_texture_student.py OUT_DIR --style STYLE.png --pairs PAIRS
        [--noise 2] [--low 8] [--patch-weight W] [--adversarial-weight W] [--steps 1500]

Where the photo is flat, a patch-transfer teacher's cells are not a function of the photo, so a
student trained with a per-pixel loss draws their average (docs/training-experiments.md). Here
the per-pixel loss only sees the images averaged over ``--low``-pixel blocks (the layout and the
colours), and the texture comes from losses that do not care where a cell sits: a bidirectional
nearest-neighbour patch loss between the result and the teacher's rendering of the same crop
(every result patch near some teacher patch, every teacher patch near some result patch, as in
bidirectional similarity, Simakov et al. 2008) and the conditional patch discriminator. With
``--noise`` the generator also sees fixed noise channels to draw cells from (as in
``experiment_noise.py``). Reports the texture statistic on the held-out photos and writes a strip.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _held_out import score_generator
from experiment_noise import WithNoise
from PIL import Image

from restyle.training import TrainConfig
from restyle.training.data import random_crops
from restyle.training.discriminator import set_requires_grad
from restyle.training.step import TrainingRun, one_cycle_lr


def _patches(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """(B, N, C·size²) patches of ``x``."""
    return F.unfold(x, size, stride=stride).transpose(1, 2)


def nn_patch_loss(result: torch.Tensor, target: torch.Tensor, size: int = 8,
                  stride: int = 4) -> torch.Tensor:
    """Bidirectional nearest-neighbour patch distance between two image batches, per image.
    The matches are found without gradients (in bfloat16); the loss is the mean squared
    distance to them."""
    a, b = _patches(result, size, stride), _patches(target, size, stride)
    with torch.no_grad():  # the search in bfloat16: half the time, the same matches nearly
        a16, b16 = a.detach().bfloat16(), b.bfloat16()
        d = (a16.pow(2).sum(-1, keepdim=True) + b16.pow(2).sum(-1)[:, None, :]
             - 2.0 * a16 @ b16.transpose(1, 2)).float()
        to_b, to_a = d.min(dim=2).indices, d.transpose(1, 2).contiguous().min(dim=2).indices
    near_b = torch.gather(b, 1, to_b[..., None].expand(-1, -1, b.shape[-1]))
    near_a = torch.gather(a, 1, to_a[..., None].expand(-1, -1, a.shape[-1]))
    return F.mse_loss(a, near_b) + F.mse_loss(near_a, b)


def _luma(x: torch.Tensor) -> torch.Tensor:
    return (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)


def _judged(photos: torch.Tensor, images: torch.Tensor, by_style: bool) -> torch.Tensor:
    """What the discriminator sees: the images alone (unconditional) or beside the photos."""
    return images if by_style else torch.cat([photos, images], 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--style", type=Path, required=True)
    parser.add_argument("--pairs", type=Path, required=True,
                        help="the teacher's pairs; with --reference style only their input/ "
                             "photos are used")
    parser.add_argument("--reference", choices=("teacher", "style"), default="teacher",
                        help="whose patches the result's must be near, and what the "
                             "discriminator calls real: the teacher's renderings (paired, "
                             "conditional) or the style image's crops (unconditional); with "
                             "'style' the pixel loss compares luminance with the photo's, "
                             "moved to the style's mean and spread")
    parser.add_argument("--noise", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--low", type=int, default=8, help="pixel loss on LOW-px block means")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--pixel-weight", type=float, default=1.0)
    parser.add_argument("--patch-weight", type=float, default=10.0)
    parser.add_argument("--adversarial-weight", type=float, default=1.0)
    parser.add_argument("--style-weight", type=float, default=None)
    parser.add_argument("--arch", default="compact")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sheet-every", type=int, default=0)
    parser.add_argument("--luma", action="store_true",
                        help="the pixel loss on the luminance only (the teacher's colours are "
                             "not a function of the photo)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    extra = {} if args.style_weight is None else {"style_weight": args.style_weight}
    by_style = args.reference == "style"
    if by_style:
        extra.update(content=args.pairs / "input", style_size=512)
    else:
        extra.update(pairs=args.pairs)
    config = TrainConfig(style=(args.style,), out=args.out / "run",
                         arch=args.arch, size=192, batch_size=4, steps=args.steps,
                         pixel_weight=args.pixel_weight, feature_weight=0.0,
                         adversarial_weight=args.adversarial_weight, threads=args.threads,
                         preview_every=0, checkpoint_every=0, **extra)
    torch.set_num_threads(args.threads)
    run = TrainingRun(config)
    if args.noise:
        run.generator = WithNoise(run.generator, args.noise)  # type: ignore[assignment]
        run.opt_g = torch.optim.Adam(run.generator.parameters(), lr=config.lr)
    if by_style:
        art = run.styles[0]
        art_luma = _luma(art[None] if art.dim() == 3 else art)
        luma_mean, luma_std = art_luma.mean(), art_luma.std()
    style_image = np.asarray(Image.open(args.style).convert("RGB"))
    for step in range(args.steps):
        lr = one_cycle_lr(step, args.steps, config.lr)
        for group in run.opt_g.param_groups:
            group["lr"] = lr
        if by_style:
            photos = run.content.sample(config.batch_size, run.rng)
            targets = random_crops(run.styles, count=config.batch_size, side=config.size,
                                   rng=run.rng)
        else:
            photos, targets = run.pairs.sample(config.batch_size, run.rng)
        set_requires_grad(run.discriminator, False)
        run.opt_g.zero_grad(set_to_none=True)
        out = run.generator(photos)
        if by_style:
            lp = _luma(photos)
            lp = ((lp - lp.mean((2, 3), keepdim=True)) / (lp.std((2, 3), keepdim=True) + 1e-3)
                  * luma_std + luma_mean)
            l_pix = F.l1_loss(F.avg_pool2d(_luma(out), args.low), F.avg_pool2d(lp, args.low))
        elif args.luma:
            l_pix = F.l1_loss(F.avg_pool2d(_luma(out), args.low),
                              F.avg_pool2d(_luma(targets), args.low))
        else:
            l_pix = F.l1_loss(F.avg_pool2d(out, args.low), F.avg_pool2d(targets, args.low))
        l_patch = (nn_patch_loss(out, targets)
                   + nn_patch_loss(F.avg_pool2d(out, 2), F.avg_pool2d(targets, 2)))
        l_style = (run.style_loss(run.features(out)) if run.style_loss is not None
                   else out.new_zeros(()))
        places = run._crop_places(out)
        fake = run._crops_of(_judged(photos, out, by_style), places)
        l_adv = run.adversarial.generator(run.discriminator(fake))
        total = (args.pixel_weight * l_pix + args.patch_weight * l_patch
                 + config.style_weight * l_style + args.adversarial_weight * l_adv)
        total.backward()
        run.opt_g.step()
        real = (run._style_crops(config.batch_size) if by_style
                else run._crops_of(_judged(photos, targets, by_style), places))
        l_d = run._update_discriminator(
            real, run._crops_of(_judged(photos, out.detach(), by_style), places))
        if args.sheet_every and (step + 1) % args.sheet_every == 0:
            score_generator(run.generator, style_image, args.out / f"step{step + 1}.png")
            run.generator.train()
        if (step + 1) % 100 == 0:
            sys.stderr.write(f"step {step + 1} pix {l_pix.item():.4f} patch {l_patch.item():.4f}"
                             f" style {l_style.item():.4f} adv {l_adv.item():.3f} d {l_d:.3f}\n")
    torch.save(run.generator.state_dict(), args.out / "generator.pt")
    scores = score_generator(run.generator, style_image, args.out / "results.png")
    sys.stdout.write(json.dumps({**{k: str(v) for k, v in vars(args).items()},
                                 "texture": scores,
                                 "mean": round(float(np.mean(scores)), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
