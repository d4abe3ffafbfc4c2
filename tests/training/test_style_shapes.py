"""restyle.training.shapes: a style image's closed shapes, and what painting into them does to
held-out photos (measured with the texture statistic, which no training loss optimises)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from restyle.errors import ConfigError
from restyle.shapes import ShapePainter
from restyle.training.data import _skimage_photo
from restyle.training.procedural import draw_style
from restyle.training.shapes import segment_style
from restyle.training.texture import content_correlation, histogram_match, texture_score


def test_a_mosaic_has_cells_and_a_grout_network() -> None:
    style = np.asarray(draw_style("mosaic", seed=11, size=256))
    shapes = segment_style(style)
    assert shapes.gap_colour is not None and max(shapes.gap_colour) < 80  # dark grout
    gap = shapes.labels == 0
    assert 0.05 < gap.mean() < 0.4
    assert gap[0].all() and gap[:, 0].all()  # the tile's seams are grout too
    assert 15 < shapes.count < 200  # cells, not specks: ~40 px across at 256 px
    sizes = np.bincount(shapes.labels.ravel())[1:]
    assert sizes.min() >= 12
    assert not shapes.lift.any()  # cells are told apart by their grout


def test_dots_have_no_gap_and_keep_their_contrast() -> None:
    shapes = segment_style(np.asarray(draw_style("pointillism", seed=5, size=256)))
    assert shapes.gap_colour is None and (shapes.labels > 0).all()
    assert shapes.count > 100
    assert np.abs(shapes.lift).max() > 0.05


def test_scaled_map_and_refusals() -> None:
    style = np.asarray(draw_style("mosaic", seed=11, size=256))
    half = segment_style(style, size=(128, 100))
    assert half.labels.shape == (128, 100) and half.tile.shape == (128, 100, 3)
    assert half.count == segment_style(style).count
    with pytest.raises(ConfigError, match="without --shapes"):
        segment_style(np.full((64, 64, 3), 120, np.uint8))
    with pytest.raises(ConfigError, match="RGB"):
        segment_style(np.zeros((64, 64), np.uint8))


@pytest.mark.parametrize("name", ["mosaic", "pointillism"])
def test_painting_moves_held_out_photos_toward_the_style(name: str) -> None:
    """Colours alone (histogram matching) score 1.0 on the statistic; painted into the style's
    shapes, two held-out photos score below 0.75 (measured ~0.3–0.5) and keep their layout."""
    style = np.asarray(draw_style(name, seed=29, size=384))
    painter = ShapePainter(segment_style(style))
    for photo_name in ("camera", "coffee"):
        photo = np.asarray(Image.fromarray(
            (_skimage_photo(photo_name) * 255 + 0.5).astype(np.uint8)).resize((384, 384)))
        painted = painter.paint(histogram_match(photo, style))
        assert texture_score(photo, painted, style).score < 0.75, photo_name
        assert content_correlation(photo, painted) > 0.3, photo_name


def test_a_photographed_mosaic_still_has_cells_and_grout() -> None:
    """Blur, uneven light, noise and JPEG: the grout is still found, and the blurred rims
    between cells and grout do not become shapes of their own."""
    import io

    from PIL import ImageFilter

    drawn = draw_style("mosaic", seed=31, size=384).filter(ImageFilter.GaussianBlur(1.2))
    rgb = np.asarray(drawn).astype(float)
    x = np.arange(384)[None, :, None] / 384
    rgb = rgb * (0.75 + 0.35 * x) + np.random.default_rng(0).normal(0, 6, rgb.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=70)
    style = np.asarray(Image.open(buf).convert("RGB"))
    shapes = segment_style(style)
    clean = segment_style(np.asarray(draw_style("mosaic", seed=31, size=384)))
    assert shapes.gap_colour is not None and max(shapes.gap_colour) < 60
    assert clean.count * 0.7 <= shapes.count <= clean.count * 2.5  # cells, not cells and rims
    assert (shapes.tile[shapes.labels == 0] == shapes.gap_colour).all()  # one grout colour
