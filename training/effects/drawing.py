"""Drawing and printmaking effects: no colour of the photo survives, only its shapes and tones."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from restyle.training.effects.filters import directional_blur, gaussian, luma, to_float, to_uint8

__all__ = ["ink", "pencil", "woodcut"]

_PAPER = np.array([0.97, 0.94, 0.87])  # warm off-white
_INK = np.array([0.10, 0.09, 0.13])  # blue-black


def ink(photo: NDArray[np.uint8], *, sigma: float = 1.2, k: float = 1.6, tau: float = 0.99,
        epsilon: float = 0.005, phi: float = 80.0) -> NDArray[np.uint8]:
    """XDoG (Winnemöller et al. 2012, eq. 5): ``D = G_σ − τ·G_kσ`` of the luminance; paper where
    ``D ≥ ε``, else ink of strength ``−tanh(φ·(D − ε))`` (soft edges, shaded dark areas)."""
    gray = Image.fromarray(photo).convert("L")
    fine = np.asarray(gray.filter(ImageFilter.GaussianBlur(sigma))).astype(np.float64) / 255.0
    coarse = np.asarray(gray.filter(ImageFilter.GaussianBlur(k * sigma))).astype(
        np.float64) / 255.0
    dog = fine - tau * coarse
    amount = np.where(dog >= epsilon, 0.0, -np.tanh(phi * (dog - epsilon)))[..., None]
    return to_uint8(_PAPER * (1.0 - amount) + _INK * amount)


_DRAWING_PAPER = np.array([0.96, 0.95, 0.92])
_GRAPHITE = np.array([0.22, 0.22, 0.25])


def pencil(photo: NDArray[np.uint8], *, sigma: float = 6.0, stroke: int = 9) -> NDArray[np.uint8]:
    """Graphite pencil sketch: a colour-dodge of the luminance by its blurred negative (dark
    where the photo is darker than its surroundings: contours and texture), smeared into
    45° strokes over ``stroke`` pixels, plus light shading of the dark areas, on white paper."""
    y = luma(to_float(photo))
    dodge = np.clip(y / np.maximum(1.0 - gaussian(1.0 - y, sigma), 1e-3), 0.0, 1.0)
    dark = 1.0 - dodge
    lines = np.clip(1.6 * np.maximum(dark, directional_blur(dark, stroke)), 0.0, 1.0)
    shade = 1.0 - 0.35 * (1.0 - gaussian(y, 2.0)) ** 2
    tone = ((1.0 - lines) * shade)[..., None]
    return to_uint8(_DRAWING_PAPER * tone + _GRAPHITE * (1.0 - tone))


_PRINT_PAPER = np.array([0.93, 0.88, 0.78])
_PRINT_INK = np.array([0.08, 0.06, 0.05])


def woodcut(photo: NDArray[np.uint8], *, detail: float = 0.8,
            threshold: float = 0.42) -> NDArray[np.uint8]:
    """Woodcut / linocut print: solid black masses and carved-out light shapes — the smoothed
    luminance, its local contrast raised by ``detail`` (against a 10 px Gaussian surround),
    cut at ``threshold`` with a steep soft step, printed in black on cream."""
    y = gaussian(luma(to_float(photo)), 1.5)
    t = y + detail * (y - gaussian(y, 10.0))
    amount = (0.5 - 0.5 * np.tanh(25.0 * (t - threshold)))[..., None]
    return to_uint8(_PRINT_PAPER * (1.0 - amount) + _PRINT_INK * amount)
