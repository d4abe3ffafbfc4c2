"""A gallery: the sample photos in the first row, one row per style beneath, labelled."""

from __future__ import annotations

import os
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from restyle.paths import atomic_output

__all__ = ["write_gallery"]


def write_gallery(rows: Sequence[tuple[str, Sequence[Image.Image]]],
                  path: str | os.PathLike[str], *, height: int = 180,
                  label_width: int = 110) -> None:
    """Write a labelled grid of images as a JPEG.

    Args:
        rows: ``(label, images)`` per row; every row has the same number of images, and column
            ``i`` of each row shows the same photo.
        path: The JPEG file to write (atomically).
        height: Height of each cell in pixels; widths follow the first row's aspect ratios.
        label_width: Width of the label column.

    Example:
        >>> write_gallery([("photo", [img]), ("mosaic", [out])], "gallery.jpg")  # doctest: +SKIP
    """
    widths = [round(im.width * height / im.height) for im in rows[0][1]]
    grid = Image.new("RGB", (label_width + sum(widths) + 2 * len(widths), len(rows) *
                             (height + 2)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=16)
    for r, (label, images) in enumerate(rows):
        y = r * (height + 2)
        draw.text((8, y + height // 2 - 8), label, fill="black", font=font)
        x = label_width
        for w, im in zip(widths, images, strict=True):
            grid.paste(im.convert("RGB").resize((w, height), Image.Resampling.LANCZOS), (x, y))
            x += w + 2
    with atomic_output(path) as tmp:
        grid.save(tmp, format="JPEG", quality=85, optimize=True)
