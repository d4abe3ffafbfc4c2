"""A texture statistic that is not a training loss: how far a result's texture is from a
reference's, relative to what palette-only colour matching achieves.

The question it answers: did a style carry over *structure* (strokes, outlines, cells, flat
patches), or only colours? Per-channel histogram matching of the photo to the reference gives the
reference's palette and nothing else; the statistic divides by that distance, so

* **1.0** — no closer to the reference's texture than palette matching (a colour remap);
* **< 1.0** — more of the reference's texture (0: identical statistics);
* **> 1.0** — further away than palette matching.

The filter bank is fixed and hand-made (nothing here is learnt or used by any training loss):
on the luminance, at three scales (the image at a 256-pixel shorter side, then halved twice),

* oriented gradient energy: ``|cos θ·∂x + sin θ·∂y|`` of the lightly blurred luminance at four
  orientations (0°, 45°, 90°, 135°), histogrammed in 16 bins (square-root spaced, 0 … 0.5);
* local binary patterns (8 neighbours at radius 1, rotation-invariant uniform codes: 10 bins).

The distance between two images is the mean total-variation distance (half the L1 distance)
between their 15 corresponding normalised histograms (4 orientations + 1 LBP at 3 scales).
Histograms are orderless, so the reference need not show the same scene: a style image works,
and so does the procedural rendering of the same photo.

Example:
    >>> rng = np.random.default_rng(0)
    >>> photo = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    >>> round(texture_distance(photo, photo), 6)
    0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["TextureScore", "content_correlation", "histogram_match", "texture_distance",
           "texture_histograms", "texture_score"]

_SIDE = 256
_SCALES = 3
_ANGLES = (0.0, 45.0, 90.0, 135.0)
_EDGES = np.linspace(0.0, 1.0, 17) ** 2 * 0.5
_LBP_BINS = 10  # P + 2 for P = 8 neighbours
_CONTENT_SIDE = 64

Array = NDArray[np.float64]


def _luma(rgb: NDArray[np.uint8], side: int = _SIDE,
          resample: Image.Resampling = Image.Resampling.BILINEAR) -> Array:
    """Luminance in [0, 1] with the shorter side resized to ``side``."""
    img = Image.fromarray(rgb).convert("RGB")
    w, h = img.size
    scale = side / min(w, h)
    img = img.resize((max(8, round(w * scale)), max(8, round(h * scale))), resample)
    out: Array = np.asarray(img.convert("L")).astype(np.float64) / 255.0
    return out


def _blur3(y: Array) -> Array:
    p = np.pad(y, 1, mode="edge")
    rows = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
    out: Array = 0.25 * rows[:, :-2] + 0.5 * rows[:, 1:-1] + 0.25 * rows[:, 2:]
    return out


def _lbp_uniform(y: Array) -> Array:
    p = np.pad(y, 1, mode="edge")
    h, w = y.shape
    offsets = ((0, 1), (1, 2), (2, 1), (1, 0), (0, 0), (0, 2), (2, 2), (2, 0))
    ring = (0, 5, 1, 6, 2, 7, 3, 4)  # the 8 neighbours in circular order
    bits = np.stack([p[oy:oy + h, ox:ox + w] >= y for oy, ox in (offsets[i] for i in ring)])
    transitions = (bits != np.roll(bits, 1, axis=0)).sum(axis=0)
    ones = bits.sum(axis=0)
    codes = np.where(transitions <= 2, ones, _LBP_BINS - 1)
    hist = np.bincount(codes.ravel(), minlength=_LBP_BINS).astype(np.float64)
    out: Array = hist / hist.sum()
    return out


def texture_histograms(rgb: NDArray[np.uint8]) -> list[Array]:
    """The 15 normalised histograms of an HxWx3 uint8 image (see the module docstring)."""
    y = _luma(rgb)
    hists: list[Array] = []
    for _ in range(_SCALES):
        b = _blur3(y)
        gx = np.zeros_like(b)
        gy = np.zeros_like(b)
        gx[:, 1:-1] = 0.5 * (b[:, 2:] - b[:, :-2])
        gy[1:-1] = 0.5 * (b[2:] - b[:-2])
        for angle in _ANGLES:
            t = np.deg2rad(angle)
            energy = np.abs(np.cos(t) * gx + np.sin(t) * gy)
            hist, _ = np.histogram(np.clip(energy, 0.0, _EDGES[-1]), bins=_EDGES)
            hists.append(hist.astype(np.float64) / max(1, hist.sum()))
        hists.append(_lbp_uniform(y))
        h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
        y = 0.25 * (y[0:h:2, 0:w:2] + y[1:h:2, 0:w:2] + y[0:h:2, 1:w:2] + y[1:h:2, 1:w:2])
    return hists


def texture_distance(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    """Mean total-variation distance between the texture histograms of ``a`` and ``b`` (0 … 1)."""
    return float(np.mean([0.5 * np.abs(p - q).sum()
                          for p, q in zip(texture_histograms(a), texture_histograms(b),
                                          strict=True)]))


def histogram_match(photo: NDArray[np.uint8], reference: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Per-channel histogram matching of ``photo`` to ``reference``: the reference's palette,
    the photo's everything else."""
    out = np.empty_like(photo)
    for c in range(3):
        src = photo[..., c].ravel()
        ref_sorted = np.sort(reference[..., c].ravel())
        ranks = np.argsort(np.argsort(src, kind="stable"), kind="stable")
        quantiles = (ranks + 0.5) / src.size
        idx = np.minimum((quantiles * ref_sorted.size).astype(np.int64), ref_sorted.size - 1)
        out[..., c] = ref_sorted[idx].reshape(photo.shape[:2])
    return out


@dataclass(frozen=True)
class TextureScore:
    """A result's texture statistic against a reference.

    Attributes:
        score: ``result_distance / palette_distance``: 1.0 = palette only, lower = more texture.
        result_distance: Texture distance from the result to the reference.
        palette_distance: Texture distance from the histogram-matched photo to the reference.
    """

    score: float
    result_distance: float
    palette_distance: float


def texture_score(photo: NDArray[np.uint8], result: NDArray[np.uint8],
                  reference: NDArray[np.uint8]) -> TextureScore:
    """How much of ``reference``'s texture ``result`` (a stylised ``photo``) shows, relative to
    per-channel histogram matching of ``photo`` to ``reference`` (see the module docstring).

    Args:
        photo: The content photo, HxWx3 uint8.
        result: The stylised photo, HxWx3 uint8.
        reference: The style image, or the target rendering of ``photo``, HxWx3 uint8.
    """
    palette = histogram_match(photo, reference)
    d_result = texture_distance(result, reference)
    d_palette = texture_distance(palette, reference)
    return TextureScore(d_result / max(d_palette, 1e-9), d_result, d_palette)


def content_correlation(photo: NDArray[np.uint8], result: NDArray[np.uint8]) -> float:
    """How much of ``photo``'s layout a stylised ``result`` keeps: the Pearson correlation of the
    two luminances' gradient magnitudes at a coarse scale (a 64-pixel shorter side, where strokes,
    hatching and grain have averaged out into tone and the scene's edges remain).

    1.0: the same edges in the same places; about 0: none of the photo's layout. A companion to
    :func:`texture_score`, which rewards the style's texture whether or not the photo survives.

    Example:
        >>> y, x = np.mgrid[0:128, 0:128]
        >>> photo = np.repeat(((x > 64) * 200 + 20).astype(np.uint8)[..., None], 3, axis=2)
        >>> turned = photo.transpose(1, 0, 2).copy()  # the edge now runs the other way
        >>> round(content_correlation(photo, photo), 3)
        1.0
        >>> abs(content_correlation(photo, turned)) < 0.1
        True
    """
    def edges(rgb: NDArray[np.uint8]) -> Array:
        # BOX: each output pixel the mean of its box, so strokes average into tone
        y = _blur3(_luma(rgb, _CONTENT_SIDE, Image.Resampling.BOX))
        gy, gx = np.gradient(y)
        out: Array = np.hypot(gx, gy).ravel()
        return out

    a, b = edges(photo), edges(result)
    if a.shape != b.shape:
        raise ValueError(f"photo and result differ in shape: {photo.shape} and {result.shape}")
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(float(np.sqrt((a * a).sum() * (b * b).sum())), 1e-12))
