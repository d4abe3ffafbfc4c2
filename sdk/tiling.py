"""Tiled inference for very large images: overlapping tiles, feathered together without seams.

Tiles are all the same size (the last row and column are moved flush with the image edge), so one
row of tiles is one batch. Each tile's weight ramps linearly across the overlap on its inner edges
and is 0 on the outermost quarter of the overlap, where a convolution's border effects live; the
weighted sum is divided by the summed weights, so every output pixel is a convex blend of the tiles
that see it well away from their edges (where two tiles overlap by exactly ``overlap`` it is a
plain linear cross-fade). A network whose receptive field radius is at most a quarter of the
overlap therefore gives the same result tiled as untiled. Instance normalisation computed per
tile would make tiles differ (by tens of grey levels); :mod:`restyle.tilenorm` feeds every tile
the whole image's statistics instead.

Memory stays bounded: only one band of tile rows is accumulated (float32) at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from restyle.errors import ConfigError

__all__ = ["TileGrid", "Tiler", "plan_tiles", "run_tiled", "tile_weights"]

Infer = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]


class Tiler(Protocol):
    """What stylises a frame too large for one pass: :func:`run_tiled`, or
    :class:`restyle.tilenorm.WholeImageNormTiler` for models with instance normalisation."""

    def __call__(self, image: NDArray[np.uint8], infer: Infer, *, tile: int,
                 overlap: int) -> NDArray[np.uint8]: ...


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of one image start, and their size."""

    height: int
    width: int
    tile_height: int
    tile_width: int
    overlap: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]

    @property
    def count(self) -> int:
        """Number of tiles."""
        return len(self.ys) * len(self.xs)


def _starts(length: int, size: int, overlap: int) -> tuple[int, ...]:
    if size >= length:
        return (0,)
    step = size - overlap
    starts = list(range(0, length - size, step))
    if starts[-1] != length - size:
        starts.append(length - size)
    return tuple(starts)


def plan_tiles(height: int, width: int, *, tile: int, overlap: int) -> TileGrid:
    """Lay out ``tile``-sized tiles overlapping by at least ``overlap`` pixels.

    Raises:
        ConfigError: ``tile`` is not larger than twice ``overlap``.

    Example:
        >>> plan_tiles(100, 250, tile=128, overlap=32).xs
        (0, 96, 122)
    """
    if overlap < 0 or tile <= 2 * overlap:
        raise ConfigError(f"tile size {tile} must exceed twice the overlap {overlap}: use a larger "
                          "tile_size or a smaller tile_overlap")
    th, tw = min(tile, height), min(tile, width)
    return TileGrid(height, width, th, tw, overlap, _starts(height, th, overlap),
                    _starts(width, tw, overlap))


def _ramp(size: int, *, lead: bool, trail: bool, overlap: int) -> NDArray[np.float32]:
    w = np.ones(size, dtype=np.float32)
    if overlap == 0:
        return w
    margin = overlap // 4
    span = max(1, overlap - 2 * margin)
    d = np.arange(size, dtype=np.float32) + 0.5
    if lead:
        w = np.minimum(w, np.clip((d - margin) / span, 0.0, 1.0))
    if trail:
        w = np.minimum(w, np.clip((d[::-1] - margin) / span, 0.0, 1.0))
    return w


def tile_weights(grid: TileGrid, row: int, col: int) -> NDArray[np.float32]:
    """The ``tile_height × tile_width`` blending weight of tile (``row``, ``col``)."""
    wy = _ramp(grid.tile_height, lead=row > 0, trail=row < len(grid.ys) - 1, overlap=grid.overlap)
    wx = _ramp(grid.tile_width, lead=col > 0, trail=col < len(grid.xs) - 1, overlap=grid.overlap)
    return np.outer(wy, wx)


def run_tiled(image: NDArray[np.uint8], infer: Infer, *, tile: int,
              overlap: int) -> NDArray[np.uint8]:
    """Run ``infer`` over overlapping tiles of ``image`` and blend the results.

    Args:
        image: ``H×W×3`` uint8.
        infer: Maps an ``N×h×w×3`` uint8 batch to an output batch of the same shape; it is called
            once per row of tiles and may split the batch further.
        tile: Tile side in pixels (smaller when the image is smaller).
        overlap: Minimum overlap between neighbouring tiles in pixels.

    Returns:
        The ``H×W×3`` uint8 result.

    Example:
        >>> img = np.random.default_rng(0).integers(0, 256, (300, 200, 3), dtype=np.uint8)
        >>> out = run_tiled(img, lambda b: 255 - b, tile=128, overlap=32)
        >>> bool((out == 255 - img).all())
        True
    """
    h, w = int(image.shape[0]), int(image.shape[1])
    grid = plan_tiles(h, w, tile=tile, overlap=overlap)
    th, tw = grid.tile_height, grid.tile_width
    out = np.empty((h, w, 3), dtype=np.uint8)
    top = 0  # first row of the band being accumulated
    acc = np.zeros((0, w, 3), dtype=np.float32)
    wsum = np.zeros((0, w, 1), dtype=np.float32)
    for r, y in enumerate(grid.ys):
        # Rows above y get no more tiles: finish them and keep the rest of the band.
        _finish(out, acc[: y - top], wsum[: y - top], top)
        band_acc = np.zeros((th, w, 3), dtype=np.float32)
        band_w = np.zeros((th, w, 1), dtype=np.float32)
        keep = acc.shape[0] - (y - top)
        if keep > 0:
            band_acc[:keep] = acc[y - top:]
            band_w[:keep] = wsum[y - top:]
        acc, wsum, top = band_acc, band_w, y
        tiles = np.stack([image[y:y + th, x:x + tw] for x in grid.xs])
        results = infer(tiles)
        for c, x in enumerate(grid.xs):
            weight = tile_weights(grid, r, c)[..., None]
            acc[:, x:x + tw] += results[c].astype(np.float32) * weight
            wsum[:, x:x + tw] += weight
    _finish(out, acc, wsum, top)
    return out


def _finish(out: NDArray[np.uint8], acc: NDArray[np.float32], wsum: NDArray[np.float32],
            top: int) -> None:
    if acc.shape[0]:
        out[top:top + acc.shape[0]] = np.clip(np.rint(acc / wsum), 0, 255).astype(np.uint8)
