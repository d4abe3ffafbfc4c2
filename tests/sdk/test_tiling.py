"""Tiled inference: layout, weights, and equality with untiled inference of a real model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from restyle import Stylizer
from restyle.errors import ConfigError
from restyle.tiling import plan_tiles, run_tiled, tile_weights

Reference = Callable[[np.ndarray], np.ndarray]


def test_tiles_cover_the_image_and_share_one_size() -> None:
    grid = plan_tiles(1000, 700, tile=256, overlap=32)
    assert grid.tile_height == grid.tile_width == 256
    assert grid.ys[0] == 0 and grid.ys[-1] + 256 == 1000
    assert grid.xs[-1] + 256 == 700
    assert all(b - a <= 256 - 32 for a, b in zip(grid.ys, grid.ys[1:], strict=False))
    small = plan_tiles(50, 80, tile=256, overlap=32)
    assert (small.tile_height, small.tile_width, small.count) == (50, 80, 1)


def test_weights_cover_everything_and_skip_tile_borders() -> None:
    grid = plan_tiles(300, 410, tile=128, overlap=40)
    total = np.zeros((300, 410), np.float64)
    margin = 40 // 4
    for r, y in enumerate(grid.ys):
        for c, x in enumerate(grid.xs):
            w = tile_weights(grid, r, c)
            total[y:y + 128, x:x + 128] += w
            if c > 0:  # an inner edge: its border pixels never count
                assert (w[:, :margin] == 0).all()
            if r < len(grid.ys) - 1:
                assert (w[-margin:, :] == 0).all()
    assert total.min() > 0.0
    # a regular overlap is a linear cross-fade: weights sum to exactly 1 there
    regular = plan_tiles(128, 128 + 88, tile=128, overlap=40)
    row = tile_weights(regular, 0, 0)[0][88:], tile_weights(regular, 0, 1)[0][:40]
    np.testing.assert_allclose(row[0] + row[1], 1.0, atol=1e-6)


def test_bad_tile_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="twice the overlap"):
        plan_tiles(100, 100, tile=64, overlap=32)


def test_tiled_tiny_model_equals_untiled(photo: np.ndarray, ref: Reference) -> None:
    # receptive-field radius 1 ≤ overlap / 4: tiles must reproduce the untiled result
    image = np.ascontiguousarray(np.tile(photo, (2, 2, 1)))  # 192 × 256
    calls: list[tuple[int, ...]] = []

    def infer(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return ref(batch)

    tiled = run_tiled(image, infer, tile=64, overlap=16)
    assert len(calls) == len(plan_tiles(192, 256, tile=64, overlap=16).ys)  # one batch per row
    np.testing.assert_array_equal(tiled, ref(image[None])[0])


def test_stylizer_tiles_large_images_without_seams(tiny_model: Path, photo: np.ndarray,
                                                   ref: Reference) -> None:
    image = np.ascontiguousarray(np.tile(photo, (3, 2, 1)))  # 288 × 256
    with Stylizer(tiny_model, backend="ort_cpu") as whole, \
            Stylizer(tiny_model, backend="ort_cpu", max_pixels=96 * 96, tile_size=96,
                     tile_overlap=16, batch_size=3) as tiles:
        a, b = whole(image), tiles(image)
    np.testing.assert_array_equal(a, b)  # no seam, no difference at all
    assert np.abs(a.astype(int) - ref(image[None])[0].astype(int)).max() <= 1
