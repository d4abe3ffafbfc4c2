"""Preview grids: content crops on top, their stylised versions below, the style at the left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restyle.paths import atomic_output
from restyle.training.models import Generator

__all__ = ["preview_grid", "write_preview"]


@torch.no_grad()
def preview_grid(generator: Generator, content: torch.Tensor,
                 styles: list[torch.Tensor]) -> np.ndarray:
    """An HxWx3 uint8 grid: the first style image (scaled to the tile size) and the content
    crops in the first row, blank and their stylisations in the second."""
    was_training = generator.training
    generator.eval()
    try:
        out = generator(content).clamp(0, 1).cpu()
    finally:
        generator.train(was_training)
    content = content.cpu()
    n, _, h, w = content.shape
    style = torch.nn.functional.interpolate(styles[0][None].cpu(), size=(h, w), mode="bilinear",
                                            antialias=True, align_corners=False)[0].clamp(0, 1)
    grid = torch.ones(3, 2 * h, (n + 1) * w)
    grid[:, :h, :w] = style
    for i in range(n):
        grid[:, :h, (i + 1) * w:(i + 2) * w] = content[i]
        grid[:, h:, (i + 1) * w:(i + 2) * w] = out[i]
    arr: np.ndarray = (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return arr


def write_preview(path: Path, generator: Generator, content: torch.Tensor,
                  styles: list[torch.Tensor]) -> Path:
    """Write :func:`preview_grid` as a PNG atomically; returns ``path``."""
    with atomic_output(path) as tmp:
        Image.fromarray(preview_grid(generator, content, styles)).save(tmp, format="PNG")
    return path
