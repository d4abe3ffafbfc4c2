"""Preview grids: content crops on top, their stylised versions below, the style at the left;
in paired mode a third row holds the targets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restyle.paths import atomic_output
from restyle.training.models import Generator

__all__ = ["preview_grid", "write_preview"]


@torch.no_grad()
def preview_grid(generator: Generator, content: torch.Tensor, styles: list[torch.Tensor],
                 targets: torch.Tensor | None = None, *,
                 paint: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> np.ndarray:
    """An HxWx3 uint8 grid: the first style image (scaled to the tile size; blank without one)
    and the content crops in the first row, blank and their stylisations in the second, and
    the ``targets`` (paired mode) in a third. ``paint(stylisation, photo)`` (HxWx3 uint8 each)
    finishes each stylisation as the exported model will (:mod:`restyle.shapes`)."""
    was_training = generator.training
    generator.eval()
    try:
        out = generator(content).clamp(0, 1).cpu()
    finally:
        generator.train(was_training)
    if paint is not None:
        frames, photos = ((t.permute(0, 2, 3, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
                          for t in (out, content))
        painted = np.stack([paint(f, p) for f, p in zip(frames, photos, strict=True)])
        out = torch.from_numpy(painted).permute(0, 3, 1, 2) / 255.0
    content = content.cpu()
    n, _, h, w = content.shape
    rows = 2 if targets is None else 3
    grid = torch.ones(3, rows * h, (n + 1) * w)
    if styles:
        grid[:, :h, :w] = torch.nn.functional.interpolate(
            styles[0][None].cpu(), size=(h, w), mode="bilinear", antialias=True,
            align_corners=False)[0].clamp(0, 1)
    for i in range(n):
        grid[:, :h, (i + 1) * w:(i + 2) * w] = content[i]
        grid[:, h:2 * h, (i + 1) * w:(i + 2) * w] = out[i]
        if targets is not None:
            grid[:, 2 * h:, (i + 1) * w:(i + 2) * w] = targets[i].cpu()
    arr: np.ndarray = (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return arr


def write_preview(path: Path, generator: Generator, content: torch.Tensor,
                  styles: list[torch.Tensor], targets: torch.Tensor | None = None, *,
                  paint: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> Path:
    """Write :func:`preview_grid` as a PNG atomically; returns ``path``."""
    grid = preview_grid(generator, content, styles, targets, paint=paint)
    with atomic_output(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path
