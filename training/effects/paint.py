"""Painterly effects: flat colour patches, posterised or quantised tones, outlines."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from restyle.training.effects.filters import (
    luma,
    median,
    to_float,
    to_uint8,
    window_means,
    xdog_ink,
)

__all__ = ["cartoon", "oil", "posterize", "toon"]


def _smooth(img: Image.Image) -> Image.Image:
    return img.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.MedianFilter(5))


def _posterised(img: Image.Image, levels: int) -> NDArray[np.float64]:
    arr = np.asarray(img).astype(np.float64) / 255.0
    return np.round(arr * (levels - 1)) / (levels - 1)


def posterize(photo: NDArray[np.uint8], *, levels: int = 4) -> NDArray[np.uint8]:
    """Median-smoothed colours posterised to ``levels`` per channel."""
    flat = _posterised(_smooth(Image.fromarray(photo)), levels)
    out: NDArray[np.uint8] = (flat * 255.0 + 0.5).astype(np.uint8)
    return out


def cartoon(photo: NDArray[np.uint8], *, levels: int = 4, sigma: float = 1.0,
            threshold: float = 0.012) -> NDArray[np.uint8]:
    """Posterised flat colours with dark outlines where a difference of Gaussians of the
    luminance (sigma and 1.6·sigma, XDoG-style) falls below ``-threshold``. Hard per-channel
    quantisation: measured hard to learn (docs/training-experiments.md); :func:`toon` is the
    learnable variant."""
    img = Image.fromarray(photo)
    smooth = _smooth(img)
    flat = _posterised(smooth, levels)
    gray = smooth.convert("L")
    fine = np.asarray(gray.filter(ImageFilter.GaussianBlur(sigma))).astype(np.float64) / 255.0
    coarse = np.asarray(gray.filter(ImageFilter.GaussianBlur(1.6 * sigma))).astype(
        np.float64) / 255.0
    dog = fine - coarse
    ink = np.clip(-(dog + threshold) / threshold, 0.0, 1.0)[..., None]  # 0 paper … 1 ink
    out = flat * (1.0 - ink) + 0.08 * ink
    result: NDArray[np.uint8] = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return result


def toon(photo: NDArray[np.uint8], *, levels: int = 5, sharpness: float = 3.0,
         saturation: float = 1.4, sigma: float = 1.0) -> NDArray[np.uint8]:
    """Cel shading (after Winnemöller et al. 2006): median-smoothed colours whose luminance is
    *softly* quantised to ``levels`` bands (a tanh step of ``sharpness`` across each band
    boundary, hue kept), saturation raised, and dark XDoG outlines. Every pixel depends on a
    ~15 px neighbourhood only, which a paired generator can learn; hard per-channel
    posterisation (:func:`cartoon`) it could not."""
    rgb = to_float(median(photo, 5, 2))
    y = luma(rgb)
    step = 1.0 / (levels - 1)
    nearest = np.round(y / step) * step
    banded = nearest + 0.5 * step * np.tanh(sharpness * (y - nearest) / (0.5 * step))
    out = rgb * ((banded + 0.02) / (y + 0.02))[..., None]
    grey = out.mean(axis=-1, keepdims=True)
    out = grey + saturation * (out - grey)
    ink = xdog_ink(y, sigma=sigma, tau=0.98, epsilon=0.004, phi=60.0)[..., None]
    return to_uint8(out * (1.0 - ink) + 0.06 * ink)


def oil(photo: NDArray[np.uint8], *, radius: int = 6) -> NDArray[np.uint8]:
    """Kuwahara filter with four ``(radius+1)``-pixel quadrant windows (edge-padded): each pixel
    takes the mean colour of the least varied window — flat painterly patches, sharp edges."""
    h, w = photo.shape[:2]
    rgb = np.pad(to_float(photo), ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    y = luma(rgb)[..., None]
    side = radius + 1
    mean_rgb = window_means(rgb, side)
    mean_y = window_means(y, side)[..., 0]
    var_y = window_means(y * y, side)[..., 0] - mean_y**2
    offsets = [(0, 0), (0, radius), (radius, 0), (radius, radius)]
    variances = np.stack([var_y[oy:oy + h, ox:ox + w] for oy, ox in offsets])
    colours = np.stack([mean_rgb[oy:oy + h, ox:ox + w] for oy, ox in offsets])
    best = np.argmin(variances, axis=0)
    return to_uint8(np.take_along_axis(colours, best[None, ..., None], axis=0)[0])

