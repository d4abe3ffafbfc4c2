"""Issue 20, item 2: two structured style images that no restyle recipe trains on — the held-out
style images of the style-image experiments (docs/training-experiments.md).

    python benchmarks/held_out_styles.py OUT_DIR      # writes strokes.png and hatching.png

* ``strokes``: 1400 short brush marks in seven colours on cream paper, each with a darker core;
* ``hatching``: pen hatching on cream paper in up to three directions, denser where a soft tone
  field is darker.

Deterministic (seeded), 512², drawn with PIL only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
PAPER = (235, 225, 200)


def strokes(seed: int = 3, size: int = SIZE) -> Image.Image:
    """Short coloured brush marks, mostly leaning one way."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), PAPER)
    draw = ImageDraw.Draw(img)
    palette = [(30, 60, 140), (200, 70, 40), (240, 190, 60), (60, 130, 80), (20, 20, 30),
               (120, 160, 210), (230, 230, 220)]
    for _ in range(1400):
        x, y = rng.uniform(-20, size + 20, 2)
        angle = rng.normal(0.6, 0.5)
        length, width = rng.uniform(18, 40), int(rng.integers(5, 10))
        colour = palette[int(rng.integers(len(palette)))]
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        ends = [(x - dx, y - dy), (x + dx, y + dy)]
        draw.line(ends, fill=colour, width=width)
        draw.line(ends, fill=tuple(max(0, c - 40) for c in colour), width=max(1, width // 4))
    return img.filter(ImageFilter.SMOOTH)


def hatching(seed: int = 5, size: int = SIZE) -> Image.Image:
    """Pen hatching: one direction where a soft tone field is light, up to three where dark."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    tone = np.zeros((size, size))
    for _ in range(6):
        cy, cx = rng.uniform(0, size, 2)
        r = rng.uniform(60, 160)
        tone += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    tone /= tone.max()
    img = Image.new("L", (size, size), 240)
    draw = ImageDraw.Draw(img)
    for angle, threshold in ((0.8, 0.15), (-0.8, 0.45), (0.0, 0.7)):
        ca, sa = np.cos(angle), np.sin(angle)
        for offset in range(-size, 2 * size, 7):
            points: list[tuple[float, float]] = []
            for t in np.arange(-size, 2 * size, 4.0):
                x, y = offset * -sa + t * ca, offset * ca + t * sa
                xi, yi = int(x), int(y)
                if 0 <= xi < size and 0 <= yi < size and tone[yi, xi] > threshold:
                    points.append((x + rng.normal(0, 0.6), y + rng.normal(0, 0.6)))
                    continue
                if len(points) > 1:
                    draw.line(points, fill=int(rng.integers(20, 60)), width=2)
                points = []
            if len(points) > 1:
                draw.line(points, fill=int(rng.integers(20, 60)), width=2)
    rgb = np.asarray(img.convert("RGB")).astype(np.float64) * np.array([1.0, 0.97, 0.9])
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    strokes().save(args.out / "strokes.png")
    hatching().save(args.out / "hatching.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
