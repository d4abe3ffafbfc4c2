"""Sample inputs shipped with restyle: four public-domain photos and a clip made from one of them.

The photos are scikit-image's public-domain / CC0 samples, resized (NOTICE.md).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from restyle._optional import require
from restyle.paths import atomic_output

__all__ = ["fit_photo", "load_photos", "make_sample_clip", "sample_photos"]


def sample_photos() -> list[Path]:
    """Paths of the bundled sample photos (astronaut, chelsea, coffee, rocket)."""
    return sorted((Path(__file__).resolve().parent / "data").glob("*.jpg"))


def make_sample_clip(
    path: str | os.PathLike[str],
    *,
    frames: int = 48,
    size: tuple[int, int] = (320, 240),
    fps: int = 24,
) -> Path:
    """Write a short H.264 clip: a slow pan and zoom over the astronaut photo.

    Args:
        path: Output .mp4 path (written atomically).
        frames: Number of frames.
        size: (width, height); both even.
        fps: Frames per second.

    Returns:
        The path written.

    Example:
        >>> make_sample_clip("/tmp/restyle-sample.mp4", frames=4)  # doctest: +SKIP
    """
    av = require("av")
    width, height = size
    photo = Image.open(sample_photos()[0]).convert("RGB")
    pw, ph = photo.size
    target = Path(path)
    with atomic_output(target) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(frames):
            t = i / max(1, frames - 1)
            zoom = 0.75 - 0.2 * t
            cw, ch = pw * zoom, pw * zoom * height / width
            cx = (pw - cw) * (0.2 + 0.6 * t)
            cy = (ph - ch) * (0.5 + 0.3 * math.sin(math.pi * t))
            box = (cx, cy, cx + cw, cy + ch)
            crop = photo.resize((width, height), Image.Resampling.BILINEAR, box=box)
            frame = av.VideoFrame.from_ndarray(np.asarray(crop), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return target


def load_photos(paths: list[Path] | None = None, *, max_side: int | None = None
                ) -> dict[str, np.ndarray]:
    """Photos as uint8 RGB arrays by file stem (default: the bundled ones), each shrunk so its
    longer side is at most ``max_side`` pixels."""
    photos = {}
    for path in sample_photos() if paths is None else paths:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        if max_side and max(rgb.size) > max_side:
            rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        photos[path.stem] = np.asarray(rgb, dtype=np.uint8)
    return photos


def fit_photo(photo: np.ndarray, height: int, width: int) -> np.ndarray:
    """``photo`` scaled (bicubic) to cover ``height``×``width`` and centre-cropped to it."""
    ph, pw = photo.shape[:2]
    s = max(height / ph, width / pw)
    nh, nw = max(height, round(ph * s)), max(width, round(pw * s))
    img = np.asarray(Image.fromarray(photo).resize((nw, nh), Image.Resampling.BICUBIC))
    y, x = (nh - height) // 2, (nw - width) // 2
    return np.ascontiguousarray(img[y:y + height, x:x + width])
