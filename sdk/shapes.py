"""A style's closed shapes (mosaic cells, dots, dabs), painted with a model's colours.

A network that maps a photo to a stylised photo cannot draw a mosaic cell in a flat area: the cell
is not a function of the photo there (docs/training-experiments.md, sessions 3–11). So a model
trained with ``restyle train --shapes`` carries the shapes of its style image — a label map of the
style's regions, tiled over the frame, with the gap between them (grout, paper) — and after the
network has run, each shape is filled with the mean of the network's colours under it. A shape
that straddles an edge of the photo splits along it (up to :data:`SPLITS` times, only where the
cut is clean), so the subject keeps its outline; the style's grain inside a shape and, where the
shapes touch (no grout or paper between them), its colour contrast between neighbouring shapes
are added back.

Painting is done on whole frames at their own coordinates, after tiling: a tiled frame equals the
same frame run whole, and video frames see the shapes in the same places (no flicker).
numpy only; the map is made by :func:`restyle.training.shapes.segment_style` and travels in the
model's metadata under :data:`SHAPES_KEY`.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import zipfile
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from restyle.errors import ConfigError, ModelFormatError

__all__ = ["SHAPES_KEY", "SPLITS", "ShapeMap", "ShapePainter", "read_shapes"]

#: The ONNX metadata key (and checkpoint metadata key) that holds a model's shape map.
SHAPES_KEY = "restyle.shapes"
#: Times a shape may split in two along an edge of the photo.
SPLITS = 2
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_GRAIN = 0.08  # the style's grain inside a shape, at most this much luminance
_SPLIT_STD = 0.08  # a shape splits where the photo's luminance under it spreads more than this
_RAGGED = 4.0  # ... and only if the cut is at most this many shape diameters long
_MIN_PART = 40  # ... leaving at least this many pixels on each side
_STATS_PIXELS = 600_000  # colours and splits are measured on about this many pixels at most


@dataclass(frozen=True)
class ShapeMap:
    """The shapes of a style image: one tile, laid over a frame in placements
    (:class:`ShapePainter`).

    Attributes:
        labels: ``H×W`` int32: 0 is the gap between shapes, 1..count the shapes.
        tile: ``H×W×3`` uint8: the style image (gap pixels in the gap's colour).
        lift: ``(count + 1)×3`` float32: added to each shape's colour (the style's contrast
            between neighbouring shapes; zeros where the shapes have grout or paper between
            them).
        gap_colour: The colour of cuts between split shapes; ``None`` draws no cut (styles
            whose shapes touch, such as overlapping dots).
    """

    labels: NDArray[np.int32]
    tile: NDArray[np.uint8]
    lift: NDArray[np.float32]
    gap_colour: tuple[int, int, int] | None

    @property
    def count(self) -> int:
        """Shapes in the tile."""
        return int(self.lift.shape[0] - 1)

    def to_text(self) -> str:
        """The map as base64 text (a compressed ``.npz``), for metadata."""
        buf = io.BytesIO()
        gap = np.array(self.gap_colour if self.gap_colour is not None else (-1, -1, -1), np.int16)
        np.savez_compressed(buf, labels=self.labels, tile=self.tile, lift=self.lift, gap=gap)
        return base64.b64encode(buf.getvalue()).decode("ascii")

    @classmethod
    def from_text(cls, text: str, *, where: str = "the model") -> ShapeMap:
        """Read :meth:`to_text`'s output.

        Raises:
            ModelFormatError: The text is not a shape map.
        """
        try:
            with np.load(io.BytesIO(base64.b64decode(text, validate=True)),
                         allow_pickle=False) as data:
                labels, tile = data["labels"], data["tile"]
                lift, gap = data["lift"], data["gap"]
        except (binascii.Error, ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            raise ModelFormatError(f"{where}: its shape map ({SHAPES_KEY}) is unreadable "
                                   f"({exc}); export the model again") from exc
        ok = (labels.ndim == 2 and tile.shape == (*labels.shape, 3) and tile.dtype == np.uint8
              and lift.ndim == 2 and lift.shape[1] == 3 and labels.size > 0
              and int(labels.min()) >= 0 and int(labels.max()) < lift.shape[0] and gap.size == 3)
        if not ok:
            raise ModelFormatError(f"{where}: its shape map ({SHAPES_KEY}) is inconsistent "
                                   "(labels, tile and colours disagree); export the model again")
        colour = None if int(gap[0]) < 0 else (int(gap[0]), int(gap[1]), int(gap[2]))
        return cls(labels.astype(np.int32), tile, lift.astype(np.float32), colour)


def _smooth(image: NDArray[np.float32], sigma: float = 1.5) -> NDArray[np.float32]:
    """Separable Gaussian blur of a 2-D array (edges reflected)."""
    radius = int(3 * sigma)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    taps /= taps.sum()
    out = image
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        out = sum((taps[k] * padded.take(range(k, k + n), axis=axis)
                   for k in range(taps.size)), start=np.zeros_like(out))
    return out


@dataclass(frozen=True)
class _Laid:
    """A shape map laid over one frame geometry."""

    labels: NDArray[np.int64]  # shape + (count + 1)·placement: each placement's own
    gap: NDArray[np.bool_]
    grain: NDArray[np.int16]  # H×W×1
    gap_rgb: NDArray[np.uint8]  # the tile's colours at the gap pixels, in order
    span: int  # labels are below this; a multiple of the tile's count + 1


class ShapePainter:
    """Paints frames into a :class:`ShapeMap` (the per-pixel grain is worked out once).

    Example:
        >>> labels = np.ones((8, 8), np.int32); labels[:, 4] = 0; labels[:, 5:] = 2
        >>> tile = np.full((8, 8, 3), 128, np.uint8); tile[:, 4] = 0
        >>> shapes = ShapeMap(labels, tile, np.zeros((3, 3), np.float32), (0, 0, 0))
        >>> frame = np.zeros((8, 8, 3), np.uint8); frame[:, :2] = 200
        >>> out = ShapePainter(shapes).paint(frame)
        >>> out[0, :, 0].tolist()  # shape 1 is flat (its mean), the gap is the style's
        [100, 100, 100, 100, 0, 0, 0, 0]
    """

    def __init__(self, shapes: ShapeMap) -> None:
        self.shapes = shapes
        labels = shapes.labels.ravel()
        lum = shapes.tile.astype(np.float32) @ _LUMA
        n = shapes.count + 1
        area = np.maximum(np.bincount(labels, minlength=n), 1)
        mean = np.bincount(labels, lum.ravel(), minlength=n) / area
        grain = np.clip(lum - mean[shapes.labels], -255 * _GRAIN, 255 * _GRAIN)
        self._grain = np.where(shapes.labels > 0, np.rint(grain), 0).astype(np.int16)
        self._lift = np.rint(shapes.lift * 255.0).astype(np.int16)
        self._cut = (None if shapes.gap_colour is None
                     else np.array(shapes.gap_colour, np.uint8))
        self._laid: tuple[tuple[int, int, int, int], _Laid] | None = None

    def _lay(self, h: int, w: int, origin: tuple[int, int]) -> _Laid:
        """The tile laid over an ``h×w`` frame (kept for the next frame of the same size: a
        video's frames all share one).

        Each placement of the tile is the tile as it is or flipped across one or both axes
        (from a hash of the placement's grid position, so a place on the canvas always gets
        the same shapes), and its shapes are its own: a frame larger than the tile shows four
        variants instead of one copy repeated, a shape's colour comes from its own place only,
        and with a gap colour the placements meet along a line of it.
        """
        key = (h, w, origin[0], origin[1])
        laid = self._laid  # one read: frames may be painted from several threads
        if laid is None or laid[0] != key:
            laid = key, self._laid_over(h, w, origin)
            self._laid = laid
        return laid[1]

    def _laid_over(self, h: int, w: int, origin: tuple[int, int]) -> _Laid:
        th, tw = self.shapes.labels.shape
        rows, cols = np.arange(h) + origin[0], np.arange(w) + origin[1]
        ty, tx = (rows // th)[:, None], (cols // tw)[None, :]  # the placement of each pixel
        mix = ((ty * 73856093) ^ (tx * 19349663)) & 0xFFFFFF
        mix = ((mix ^ (mix >> 13)) * 1274126177) & 0x7FFFFFFF  # < 2^55 before the mask
        ry, rx = (rows % th)[:, None], (cols % tw)[None, :]
        ry = np.where(mix & 1 << 20, th - 1 - ry, ry)
        rx = np.where(mix & 1 << 21, tw - 1 - rx, rx)
        labels = self.shapes.labels[ry, rx]
        tile = self.shapes.tile[ry, rx]
        if self._cut is not None:  # placements meet along a line of gap (grout)
            seam = (((rows % th) == 0) & (rows > 0))[:, None] | (((cols % tw) == 0) & (cols > 0))
            labels = np.where(seam, 0, labels)
            tile[seam] = self._cut
        placement = (ty - ty.min()) * (int(tx.max() - tx.min()) + 1) + (tx - tx.min())
        first = self.shapes.count + 1
        gap = labels == 0
        placed = np.where(gap, 0, labels + first * placement).astype(np.int64)
        span = first * (int(placement.max()) + 1)
        return _Laid(placed, gap, self._grain[ry, rx][..., None], tile[gap], span)

    def paint(self, frame: NDArray[np.uint8], *, origin: tuple[int, int] = (0, 0),
              guide: NDArray[np.uint8] | None = None) -> NDArray[np.uint8]:
        """``frame`` (``H×W×3`` uint8, the network's output) painted into the shapes, the tile
        laid with its corner at ``-origin`` (the frame's top-left pixel is the tile's
        ``origin``, modulo its size). Shapes split along the edges of ``guide`` (the photo the
        network was given, same size; default ``frame``): a network that recolours a photo
        may blur or move the light and dark that outline its subject.

        The shapes' colours and splits are measured on every ``step``-th pixel of frames larger
        than :data:`_STATS_PIXELS` (a 1080p frame: every second), then drawn at full size.
        """
        h, w = frame.shape[:2]
        laid = self._lay(h, w, origin)
        labels = laid.labels
        step = max(1, int(np.ceil(np.sqrt(h * w / _STATS_PIXELS))))
        sub = frame[::step, ::step].astype(np.float32)
        edges = sub if guide is None else guide[::step, ::step].astype(np.float32)
        if edges.shape != sub.shape:
            raise ConfigError(f"guide {guide.shape if guide is not None else None} and frame "
                              f"{frame.shape} differ in size: pass the photo the frame was "
                              "made from")
        parts, cut = self._split(labels[::step, ::step], edges @ _LUMA, step, laid.span)
        n = int(parts.max()) + 1
        flat = parts.ravel()
        area = np.bincount(flat, minlength=n)
        means = np.stack([np.bincount(flat, sub[..., c].ravel(), minlength=n)
                          for c in range(3)], axis=1) / np.maximum(area, 1)[:, None]
        table = np.rint(means).astype(np.int16) + self._lift[np.arange(n) % self._lift.shape[0]]
        if step > 1:  # back to full size; along shape borders each pixel keeps its own shape
            up = np.repeat(np.repeat(parts.astype(np.int32), step, axis=0), step, axis=1)[:h, :w]
            cut = np.repeat(np.repeat(cut, step, axis=0), step, axis=1)[:h, :w] & (labels > 0)
            parts = np.where(up % laid.span == labels, up, labels)
            parts[cut] = 0
        painted = table[parts]
        painted += laid.grain
        out: NDArray[np.uint8] = np.clip(painted, 0, 255).astype(np.uint8)
        gap = laid.gap
        out[gap] = laid.gap_rgb
        if self._cut is not None:
            out[cut] = self._cut
        unseen = (area == 0)[parts] & ~gap & ~cut  # a sliver no sampled pixel fell in
        out[unseen] = frame[unseen]
        return out

    def _split(self, labels: NDArray[np.int64], lum: NDArray[np.float32], step: int,
               span: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Split shapes that straddle an edge of the photo (``lum`` in 0..255), where the cut
        is clean; returns the parts (placed shape ``s`` splits into ``s`` and ``s + span·2^k``)
        and the cut lines (label 0) drawn between parts when the style has a gap colour. The
        arrays are the frame sampled every ``step``-th pixel."""
        smooth = _smooth(lum / 255.0)
        min_part = _MIN_PART / step ** 2  # pixels of the sampled grid
        cuts = np.zeros(labels.shape, bool)
        for k in range(SPLITS):
            n = span << k  # labels stay below n, and ≡ their placed shape modulo `span`
            flat = labels.ravel()
            area = np.maximum(np.bincount(flat, minlength=n), 1)
            mean = np.bincount(flat, smooth.ravel(), minlength=n) / area
            var = np.bincount(flat, smooth.ravel() ** 2, minlength=n) / area - mean ** 2
            split = (np.sqrt(np.maximum(var, 0.0)) > _SPLIT_STD) & (np.arange(n) > 0)
            upper = split[labels] & (smooth > mean[labels])
            trial = np.where(upper, labels + n, labels)
            edge = np.zeros(labels.shape, bool)
            edge[:, 1:] |= (trial[:, 1:] != trial[:, :-1]) & (labels[:, 1:] == labels[:, :-1])
            edge[1:] |= (trial[1:] != trial[:-1]) & (labels[1:] == labels[:-1])
            edge &= labels > 0
            cut_length = np.bincount(labels[edge], minlength=n)
            upper_area = np.bincount(labels[upper], minlength=n)
            ok = (split & (cut_length <= _RAGGED * np.sqrt(area))
                  & (np.minimum(upper_area, area - upper_area) >= min_part))
            keep = ok[labels]
            labels = np.where(keep, trial, labels)
            if self._cut is not None:
                cut = edge & keep
                cuts |= cut
                labels[cut] = 0
        return labels, cuts


def read_shapes(path: str | os.PathLike[str]) -> ShapeMap | None:
    """The shape map a restyle ONNX model carries, or ``None`` for a model without one.

    Raises:
        ModelFormatError: The model's shape map is unreadable.
    """
    from restyle.modelinfo import read_metadata_props

    text = read_metadata_props(path).get(SHAPES_KEY)
    return ShapeMap.from_text(text, where=str(path)) if text else None
