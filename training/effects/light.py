"""Light effects: the photo's edges as glowing lines, or its shapes as a lit relief."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from restyle.training.effects.filters import gaussian, luma, to_float, to_uint8

__all__ = ["neon", "relief"]


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


_METAL = np.array([0.78, 0.74, 0.68])  # warm pewter


def relief(photo: NDArray[np.uint8], *, depth: float = 4.0, sigma: float = 1.0,
           tone: float = 0.15) -> NDArray[np.uint8]:
    """Embossed metal relief: the photo's shapes raised and lit from the top left — the
    diagonal difference of the blurred luminance (``depth`` times) around mid-grey, with a
    little of the photo's tone, in pewter. Every pixel depends on a 3×3 neighbourhood of the
    blurred image."""
    y = gaussian(luma(to_float(photo)), sigma)
    p = np.pad(y, 1, mode="edge")
    slope = p[:-2, :-2] - p[2:, 2:]  # up-left minus down-right: light from the top left
    shade = np.clip(0.55 + depth * slope + tone * (y - 0.5), 0.0, 1.0)[..., None]
    return to_uint8(shade * _METAL / _METAL.max())
