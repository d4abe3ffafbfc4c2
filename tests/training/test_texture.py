"""The texture statistic: 0 for the reference's own texture, 1 for palette-only matching."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from restyle.training.texture import (
    content_correlation,
    histogram_match,
    texture_distance,
    texture_score,
)


def _photo(seed: int = 0, size: int = 192) -> NDArray[np.uint8]:
    """Smooth colour blobs on a gradient: a photo-like image without texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.3 + 0.4 * x, 0.5 - 0.3 * y, 0.4 + 0.2 * x * y], axis=-1)
    for _ in range(6):
        cy, cx, r = rng.random(3) * [1, 1, 0.25] + [0, 0, 0.08]
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - blob) + rng.random(3) * blob
    out: NDArray[np.uint8] = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return out


def _hatched(photo: NDArray[np.uint8], period: int = 6, phase: int = 0) -> NDArray[np.uint8]:
    """Dark diagonal lines over the photo, denser where it is darker: a hatching texture."""
    h, w = photo.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    tone = photo.mean(axis=2) / 255.0
    lines = ((x + y + phase) % period) < np.ceil(period * (1.0 - tone))
    out: NDArray[np.uint8] = np.where(lines[..., None], 30, 235).astype(np.uint8).repeat(3, 2)
    return out


def test_the_reference_scores_zero_and_palette_matching_one() -> None:
    photo = _photo()
    reference = _hatched(photo)
    assert texture_score(photo, reference, reference).score == 0.0
    palette = histogram_match(photo, reference)
    assert texture_score(photo, palette, reference).score == 1.0


def test_histogram_matching_takes_the_reference_palette() -> None:
    photo, reference = _photo(0), _photo(1)
    matched = histogram_match(photo, reference)
    for c in range(3):
        a, b = np.sort(matched[..., c].ravel()), np.sort(reference[..., c].ravel())
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0
    # ... and keeps the photo's ordering of pixels (a monotone remap per channel)
    order = np.argsort(photo[..., 0].ravel(), kind="stable")
    assert (np.diff(matched[..., 0].ravel()[order].astype(int)) >= 0).all()


def test_texture_of_another_scene_scores_low_a_colour_remap_does_not() -> None:
    photo = _photo(0)
    reference = _hatched(_photo(3), phase=0)  # the style: hatching, drawn on another scene
    hatched = _hatched(photo, phase=2)  # the photo drawn with that hatching
    remapped = (255 * (photo / 255.0) ** 0.6).astype(np.uint8)[..., ::-1]  # colours only
    good = texture_score(photo, hatched, reference).score
    palette_only = texture_score(photo, np.ascontiguousarray(remapped), reference).score
    assert good < 0.5, good
    assert palette_only > 0.8, palette_only


def test_distance_is_symmetric_and_bounded() -> None:
    a, b = _photo(0), _hatched(_photo(1))
    d = texture_distance(a, b)
    assert d == texture_distance(b, a) and 0.0 < d <= 1.0


def _shapes(seed: int, size: int = 384) -> NDArray[np.uint8]:
    """A scene with a layout: light and dark discs and bars on a mid-grey ground."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    tone = np.full((size, size), 0.5)
    for _ in range(5):
        cy, cx, r = rng.random(3) * [0.8, 0.8, 0.12] + [0.1, 0.1, 0.06]
        tone[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.choice([0.15, 0.9])
        top, left = (rng.random(2) * 0.8 * size).astype(int)
        tone[top:top + size // 12, left:left + size // 4] = rng.choice([0.2, 0.85])
    out: NDArray[np.uint8] = (np.repeat(tone[..., None], 3, axis=2) * 255).astype(np.uint8)
    return out


def test_content_correlation_keeps_a_hatched_photo_and_loses_another_scene() -> None:
    photo = _shapes(0)
    hatched = _hatched(photo)  # the same scene drawn in hatching: its layout survives
    other = _hatched(_shapes(3))  # the same texture over another scene
    assert content_correlation(photo, photo) > 0.999
    kept, lost = content_correlation(photo, hatched), content_correlation(photo, other)
    assert kept > 0.6 and lost < 0.3, (kept, lost)
    with pytest.raises(ValueError, match="differ in shape"):
        content_correlation(photo, photo[:, :300])
