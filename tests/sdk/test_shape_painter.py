"""restyle.shapes: painting a frame into a style's closed shapes (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from restyle.errors import ModelFormatError
from restyle.shapes import ShapeMap, ShapePainter


def _grid_map(gap: bool = True) -> ShapeMap:
    """A 24×24 tile of sixteen 6×6 square shapes, one-pixel gap lines between them and along
    all four edges (as segment_style leaves a style with a gap)."""
    labels = np.zeros((24, 24), np.int32)
    for i in range(4):
        for j in range(4):
            labels[6 * i + (1 if gap else 0):6 * i + 6, 6 * j + (1 if gap else 0):6 * j + 6] = (
                1 + 4 * i + j)
    if gap:
        labels[-1], labels[:, -1] = 0, 0
    tile = np.full((24, 24, 3), 150, np.uint8)
    tile[labels == 0] = (10, 20, 30)
    return ShapeMap(labels, tile, np.zeros((17, 3), np.float32), (10, 20, 30) if gap else None)


def test_text_round_trip_and_damaged_maps() -> None:
    shapes = _grid_map()
    back = ShapeMap.from_text(shapes.to_text())
    assert np.array_equal(back.labels, shapes.labels) and np.array_equal(back.tile, shapes.tile)
    assert back.gap_colour == (10, 20, 30) and back.count == 16
    assert ShapeMap.from_text(_grid_map(gap=False).to_text()).gap_colour is None
    with pytest.raises(ModelFormatError, match="unreadable"):
        ShapeMap.from_text("not base64 at all!", where="m.onnx")
    broken = ShapeMap(shapes.labels, shapes.tile[:5], shapes.lift, shapes.gap_colour)
    with pytest.raises(ModelFormatError, match="inconsistent"):
        ShapeMap.from_text(broken.to_text())


def test_each_placed_shape_is_flat_and_the_gap_is_the_styles() -> None:
    """Noise has no edge to split along: every shape is one colour, the mean of the frame
    under it at its own place (a frame larger than the tile holds several placements, each
    rolled and flipped, with shapes of their own), and the gap keeps the style's colour."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (72, 64, 3), dtype=np.uint8)  # three tiles down, 2⅔ across
    out = ShapePainter(_grid_map()).paint(frame)
    gap = (out == (10, 20, 30)).all(-1)
    assert 0.2 < gap.mean() < 0.45  # one-pixel lines around 6×6 squares (5×5 inside)
    pieces, count = ndimage.label(~gap)
    assert count >= 16 * 6  # the placements' squares, cut by the frame's edges
    colours = set()
    for k in range(1, count + 1):
        inside = out[pieces == k]
        assert (inside == inside[0]).all()
        assert np.abs(inside[0] - frame[pieces == k].mean(0)).max() <= 1
        colours.add(tuple(inside[0]))
    assert len(colours) > 0.9 * count  # no two places share a colour (each has its own mean)


def test_the_same_place_gets_the_same_shapes() -> None:
    """A crop painted at its origin is the crop of the whole frame's painting (for colours
    that are flat under each shape, so the crop sees the same means); placements differ."""
    painter = ShapePainter(_grid_map())
    noise = np.random.default_rng(1).integers(0, 256, (60, 64, 3), dtype=np.uint8)
    flat = painter.paint(noise)  # one colour per shape: a frame the crop can reproduce
    whole = painter.paint(flat)
    assert np.array_equal(whole, flat)
    crop = painter.paint(flat[7:50, 13:61], origin=(7, 13))
    assert np.array_equal(crop, whole[7:50, 13:61])
    shifted = painter.paint(flat[7:50, 13:61])  # at the wrong origin
    assert not np.array_equal(shifted, whole[7:50, 13:61])
    gap = (whole == (10, 20, 30)).all(-1)
    assert not np.array_equal(gap[:24, :24], gap[24:48, :24])  # the next placement differs


def test_a_shape_across_an_edge_of_the_photo_splits_along_it() -> None:
    labels = np.ones((40, 40), np.int32)
    labels[:, :2] = 0
    labels[:, 38:] = 0
    tile = np.full((40, 40, 3), 128, np.uint8)
    for gap, cut_expected in (((200, 0, 200), True), (None, False)):
        shapes = ShapeMap(labels, tile, np.zeros((2, 3), np.float32), gap)
        frame = np.zeros((40, 40, 3), np.uint8)
        frame[:, 20:] = 240  # a hard edge down the middle of the one shape
        out = ShapePainter(shapes).paint(frame).astype(int)
        assert out[20, 8].max() < 30 and out[20, 32].min() > 210  # both sides keep their tone
        cut = (out[:, 18:22] == (200, 0, 200)).all(-1).any(1)  # the cut line, in the gap colour
        assert cut.all() if cut_expected else not cut.any()
        # a ragged "edge" (noise around the middle tone) does not split the shape
        speckle = np.random.default_rng(2).integers(40, 200, (40, 40, 1)).repeat(3, 2)
        noisy = ShapePainter(shapes).paint(speckle.astype(np.uint8))
        assert len(np.unique(noisy[labels == 1].reshape(-1, 3), axis=0)) == 1


def test_a_guide_of_another_size_is_refused() -> None:
    from restyle.errors import ConfigError

    frame = np.zeros((30, 30, 3), np.uint8)
    with pytest.raises(ConfigError, match="differ in size"):
        ShapePainter(_grid_map()).paint(frame, guide=np.zeros((30, 31, 3), np.uint8))
