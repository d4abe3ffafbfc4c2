"""Image filters the effects share: numpy float images in [0, 1], edge-padded, deterministic."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

__all__ = ["LUMA", "directional_blur", "gaussian", "luma", "median", "to_float", "to_uint8",
           "window_means", "xdog_ink"]

#: ITU-R BT.601 luma weights.
LUMA = np.array([0.299, 0.587, 0.114])

Float = NDArray[np.float64]


def to_float(photo: NDArray[np.uint8] | Image.Image) -> Float:
    """uint8 array or PIL image → float64 in [0, 1]."""
    out: Float = np.asarray(photo).astype(np.float64) / 255.0
    return out


def to_uint8(image: Float) -> NDArray[np.uint8]:
    """Float image in [0, 1] (clipped) → uint8, rounded."""
    out: NDArray[np.uint8] = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out


def luma(rgb: Float) -> Float:
    """HxWx3 → HxW luma."""
    out: Float = rgb @ LUMA
    return out


def median(photo: NDArray[np.uint8], size: int = 5, times: int = 2) -> NDArray[np.uint8]:
    """``times`` passes of a ``size``-pixel median filter: edge-preserving smoothing."""
    img = Image.fromarray(photo)
    for _ in range(times):
        img = img.filter(ImageFilter.MedianFilter(size))
    out: NDArray[np.uint8] = np.asarray(img)
    return out


def gaussian(image: Float, sigma: float) -> Float:
    """Separable Gaussian blur (radius 3σ, edge padding) of an HxW or HxWxC float image."""
    radius = max(1, int(3.0 * sigma + 0.5))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(x * x) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    h, w = image.shape[:2]
    pad = [(radius, radius), (0, 0)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad, mode="edge")
    rows: Float = sum((k * padded[i:i + h] for i, k in enumerate(kernel)),
                      start=np.zeros_like(image))
    pad = [(0, 0), (radius, radius)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(rows, pad, mode="edge")
    out: Float = sum((k * padded[:, i:i + w] for i, k in enumerate(kernel)),
                     start=np.zeros_like(image))
    return out


def directional_blur(image: Float, length: int) -> Float:
    """Mean along the rising diagonal (45°) over ``length`` (odd) pixels of an HxW image."""
    r = length // 2
    h, w = image.shape
    padded = np.pad(image, r, mode="edge")
    total: Float = sum((padded[r + i:r + i + h, r - i:r - i + w] for i in range(-r, r + 1)),
                       start=np.zeros_like(image))
    out: Float = total / float(2 * r + 1)
    return out


def window_means(values: Float, side: int) -> Float:
    """Means of every ``side``×``side`` window of an HxWxC image, indexed by its top-left corner
    (valid windows only)."""
    total = np.pad(values.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0), (0, 0)))
    sums = (total[side:, side:] - total[:-side, side:] - total[side:, :-side]
            + total[:-side, :-side])
    means: Float = sums / float(side * side)
    return means


def xdog_ink(gray: Float, *, sigma: float, k: float = 1.6, tau: float = 0.99,
             epsilon: float = 0.005, phi: float = 80.0) -> Float:
    """XDoG (Winnemöller et al. 2012, eq. 5) ink amount in [0, 1] of an HxW luminance:
    ``D = G_σ − τ·G_kσ``; none where ``D ≥ ε``, else ``−tanh(φ·(D − ε))``."""
    dog = gaussian(gray, sigma) - tau * gaussian(gray, k * sigma)
    amount: Float = np.where(dog >= epsilon, 0.0, -np.tanh(phi * (dog - epsilon)))
    return amount
