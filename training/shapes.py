"""Finding a style image's closed shapes: the :class:`restyle.shapes.ShapeMap` that
``restyle train --shapes`` stores with the generator.

The style's colours are quantised (k-means on a median-filtered copy, so grain and
anti-aliasing do not count), and each connected area of one quantised colour is a shape. One
colour class may instead be the **gap** between shapes: the class whose largest connected piece
runs between the shapes as thin connected lines (a mosaic's grout, the leading of stained
glass); it is kept as it is, and so is any single piece that reaches across the whole image
(the paper around dots or marks). Specks smaller than a few pixels join the nearest shape or
the gap. The map is the style image as one tile, repeated over a frame (its seams are drawn
as gap where a gap class exists).
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from restyle.errors import ConfigError
from restyle.shapes import ShapeMap

__all__ = ["MAX_SIDE", "MIN_SHAPES", "segment_style"]

log = logging.getLogger("restyle.training.shapes")

#: A style image with fewer shapes than this has no shapes to paint (a flat image, a gradient).
MIN_SHAPES = 8
#: Longer side at which a style image is segmented at most.
MAX_SIDE = 2048
_COLOURS = 10
_MIN_SPECK = 12
_MIN_DEPTH = 2.5  # a shape narrower than about 5 px ...
_SLIVER = 0.35  # ... and than a third of the typical shape's width is a sliver
_SAME_COLOUR = 0.12  # RGB distance (0..1 channels) under which two colours are one
_SPANS = 0.9  # a piece reaching across this share of both sides is ground, not a shape
_LARGE_SHAPE = 0.05  # a shape over this share of the style image draws a warning
_GAP_HALF_WIDTH = 3.0
_GAP_CONNECTED = 0.5
_GAP_BORDERS = 0.65


def _kmeans(pixels: NDArray[np.float64], k: int, *, seed: int = 0,
            iters: int = 20) -> NDArray[np.float64]:
    """Colour centres of ``pixels`` (N×3), from a fixed-seed sample."""
    rng = np.random.default_rng(seed)
    sample = pixels[rng.choice(len(pixels), size=min(20000, len(pixels)), replace=False)]
    k = min(k, len(np.unique(sample, axis=0)))
    centres = sample[rng.integers(len(sample))][None].copy()
    while len(centres) < k:  # k-means++: each new centre far from the ones chosen
        d = ((sample[:, None, :] - centres[None]) ** 2).sum(-1).min(1)
        centres = np.vstack([centres, sample[rng.choice(len(sample), p=d / d.sum())]])
    for _ in range(iters):
        near = ((sample[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            if (near == j).any():
                centres[j] = sample[near == j].mean(0)
    kept: list[NDArray[np.float64]] = []
    for centre in centres:  # one colour found twice (a grainy cell) is one colour
        if all(np.linalg.norm(centre - other) >= _SAME_COLOUR for other in kept):
            kept.append(centre)
    return np.array(kept)


def _gap_class(classes: NDArray[np.int64], k: int) -> int:
    """The colour class that runs between the shapes as thin lines (grout, leading), or -1.

    Connected: its largest piece holds at least :data:`_GAP_CONNECTED` of it (the shapes of
    one colour are many separate pieces); thin: its pixels lie at a median distance of at most
    :data:`_GAP_HALF_WIDTH` px from other colours, and no farther than the other classes'
    pixels do; between the shapes: it borders pieces holding :data:`_GAP_BORDERS` of the other
    colours' pixels (grout meets every cell; touching dots of one colour only their
    neighbours); and it covers 1–45% of the image.
    """
    from scipy import ndimage

    depth = np.zeros(classes.shape)
    pieces = np.zeros(classes.shape, np.int64)  # connected pieces of every class, numbered apart
    for j in range(k):  # each pixel's distance to the nearest pixel of another class
        mask = classes == j
        if mask.any():
            depth[mask] = ndimage.distance_transform_edt(mask)[mask]
            own, _ = ndimage.label(mask)
            pieces[mask] = own[mask] + pieces.max()
    piece_area = np.bincount(pieces.ravel())
    best, best_connected = -1, 0.0
    for j in range(k):
        mask = classes == j
        if not 0.01 <= float(mask.mean()) <= 0.45:
            continue
        half_width = float(np.median(depth[mask]))
        if half_width > min(_GAP_HALF_WIDTH, float(np.median(depth[~mask]))):
            continue
        # thin diagonals connect, and so do breaks of a pixel (a 1-px grout line filtered)
        grown = ndimage.binary_dilation(mask)
        network, _ = ndimage.label(grown, structure=np.ones((3, 3)))
        connected = float(np.bincount(network[mask])[1:].max() / mask.sum())
        bordered = np.unique(pieces[grown & ~mask])
        borders = float(piece_area[bordered].sum() / max(1, int((~mask).sum())))
        if connected >= max(_GAP_CONNECTED, best_connected) and borders >= _GAP_BORDERS:
            best, best_connected = j, connected
    return best


def segment_style(style: NDArray[np.uint8], *, size: tuple[int, int] | None = None,
                  contrast: float | None = None) -> ShapeMap:
    """The closed shapes of ``style`` (``H×W×3`` uint8) as a :class:`ShapeMap`.

    Args:
        style: The style image, at its own resolution (thin gaps survive there).
        size: (height, width) the shapes should have in results (the style image's training
            scale); default: the image's own.
        contrast: How much of the style's colour contrast between neighbouring shapes is added
            to the painted colours; default 0 when the shapes have a gap or ground between them
            (a mosaic's cells are told apart by their grout, printed dots by the paper) and 1
            when they touch (touching dots are told apart only by their colours, as in
            pointillism).

    Raises:
        ConfigError: The image has fewer than :data:`MIN_SHAPES` shapes.

    Example:
        >>> from restyle.training.procedural import draw_style
        >>> shapes = segment_style(np.asarray(draw_style("mosaic", seed=3, size=512)))
        >>> shapes.gap_colour is not None and shapes.count > 8
        True
    """
    from scipy import ndimage

    if style.ndim != 3 or style.shape[2] != 3 or min(style.shape[:2]) < 16:
        raise ConfigError(f"a style image for --shapes must be RGB and at least 16 px a side, "
                          f"got an array of shape {style.shape}")
    if max(style.shape[:2]) > MAX_SIDE:  # segmentation time grows with the pixels
        from PIL import Image

        scale = MAX_SIDE / max(style.shape[:2])
        wh = (round(style.shape[1] * scale), round(style.shape[0] * scale))
        style = np.asarray(Image.fromarray(style).resize(wh, Image.Resampling.LANCZOS))
        size = size or (style.shape[0], style.shape[1])
    tile = style.astype(np.float64) / 255.0
    smooth = ndimage.median_filter(tile, size=(3, 3, 1), mode="wrap")
    centres = _kmeans(smooth.reshape(-1, 3), _COLOURS)
    k = len(centres)
    classes = ((smooth[:, :, None, :] - centres[None, None]) ** 2).sum(-1).argmin(-1)
    # the gap is looked for in the unfiltered pixels: the median erases 1-px grout lines
    raw = ((tile[:, :, None, :] - centres[None, None]) ** 2).sum(-1).argmin(-1)
    gap = _gap_class(raw, k)
    if gap >= 0:
        classes[raw == gap] = gap
    labels = np.zeros(classes.shape, np.int64)
    count = 0
    for j in range(k):
        if j != gap:
            pieces, n = ndimage.label(classes == j)
            labels[pieces > 0] = pieces[pieces > 0] + count
            count += n
    if gap >= 0:  # the tile's edges meet other placements' edges: gap along all four
        labels[0], labels[-1], labels[:, 0], labels[:, -1] = 0, 0, 0, 0
    area = np.bincount(labels.ravel(), minlength=count + 1)
    # specks (grain) and slivers (the blurred rim between a cell and its grout, a few px wide)
    # are not shapes: they join the nearest shape or gap
    edge = np.zeros(labels.shape, bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:-1] |= labels[1:] != labels[:-1]
    depth = ndimage.distance_transform_edt(~edge)
    deepest = np.zeros(count + 1)
    np.maximum.at(deepest, labels.ravel(), depth.ravel())
    typical = float(np.median(deepest[1:][area[1:] >= _MIN_SPECK])) if count else 0.0
    thin = deepest < min(_MIN_DEPTH, _SLIVER * typical)
    specks = ((area[labels] < _MIN_SPECK) | thin[labels]) & (labels > 0)
    if specks.any():
        _, (rows, cols) = ndimage.distance_transform_edt(specks, return_indices=True)
        labels = labels[rows, cols]
    h, w = classes.shape
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is not None and (box[0].stop - box[0].start >= _SPANS * h
                                and box[1].stop - box[1].start >= _SPANS * w):
            labels[labels == index] = 0  # a piece across the whole image is ground (paper)
    used, labels = np.unique(labels, return_inverse=True)
    labels = labels.reshape(classes.shape) + (0 if used[0] == 0 else 1)
    count = int(labels.max())
    if count < MIN_SHAPES:
        raise ConfigError(f"the style image has {count} shape(s) of one colour, fewer than "
                          f"{MIN_SHAPES}: --shapes is for styles made of many closed shapes "
                          "(mosaic cells, dots, dabs); train without --shapes")
    largest = float(np.bincount(labels.ravel())[1:].max() / labels.size)
    if largest > _LARGE_SHAPE:
        log.warning("one shape of the style image covers %.0f%% of it and will be painted in "
                    "one colour: --shapes suits styles made of many small closed shapes "
                    "(mosaic cells, dots, dabs); for lines and hatching train without it",
                    100 * largest)
    out_tile = style.copy()
    gap_colour: tuple[int, int, int] | None = None
    if gap >= 0:
        r, g, b = (int(v) for v in np.median(style[classes == gap], axis=0))
        gap_colour = (r, g, b)
        out_tile[labels == 0] = (r, g, b)  # one grout colour: no rim of the style's cells
    ground = bool((labels == 0).any())  # grout, leading or paper around the shapes
    weight = (0.0 if ground else 1.0) if contrast is None else float(contrast)
    lift = np.zeros((count + 1, 3), np.float32)
    if weight:
        sizes = np.bincount(labels.ravel())[1:]
        sigma = float(np.sqrt(np.median(sizes[sizes > 0])))  # about one shape across
        local = ndimage.gaussian_filter(tile, (sigma, sigma, 0), mode="wrap")
        flat = labels.ravel()
        area = np.maximum(np.bincount(flat, minlength=count + 1), 1)
        lift = weight * np.stack([np.bincount(flat, (tile - local)[..., c].ravel(),
                                              minlength=count + 1) for c in range(3)], 1)
        lift /= area[:, None]
        lift[0] = 0.0
    log.info("style shapes: %d, gap %s (%.0f%% of the image)", count,
             "none" if gap_colour is None else f"rgb{gap_colour}", 100 * np.mean(labels == 0))
    shapes = ShapeMap(labels.astype(np.int32), out_tile, lift.astype(np.float32), gap_colour)
    return shapes if size is None or size == labels.shape else _resized(shapes, size)


def _resized(shapes: ShapeMap, size: tuple[int, int]) -> ShapeMap:
    """``shapes`` at another scale: the tile resampled, the labels by nearest neighbour (a
    shape that vanishes keeps its colour entry, unused)."""
    from PIL import Image

    wh = (size[1], size[0])
    tile = np.asarray(Image.fromarray(shapes.tile).resize(wh, Image.Resampling.LANCZOS))
    labels = np.asarray(Image.fromarray(shapes.labels).resize(wh, Image.Resampling.NEAREST))
    return ShapeMap(labels.astype(np.int32), tile.copy(), shapes.lift, shapes.gap_colour)
