"""Light effects: the photo's edges as glowing lines."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from restyle.training.effects.filters import gaussian, luma, to_float, to_uint8

__all__ = ["neon"]


def neon(photo: NDArray[np.uint8], *, gain: float = 6.0, glow: float = 3.0) -> NDArray[np.uint8]:
    """Neon tubes on black: the gradient magnitude of the lightly blurred photo (times
    ``gain``) lit in the photo's own hue at full brightness and saturation, with a soft halo
    (a ``glow``-pixel Gaussian of the lines, screen-blended)."""
    rgb = gaussian(to_float(photo), 1.0)
    y = luma(rgb)
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, 1:-1] = y[:, 2:] - y[:, :-2]
    gy[1:-1] = y[2:] - y[:-2]
    edges = np.clip(gain * np.sqrt(gx * gx + gy * gy), 0.0, 1.0)
    hue = rgb / np.maximum(rgb.max(axis=-1, keepdims=True), 0.05)
    grey = hue.mean(axis=-1, keepdims=True)
    hue = np.clip(grey + 2.0 * (hue - grey), 0.0, 1.0)
    core = hue * edges[..., None]
    halo = np.clip(1.5 * gaussian(core, glow), 0.0, 1.0)
    return to_uint8(1.0 - (1.0 - core) * (1.0 - halo) + 0.03)
