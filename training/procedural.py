"""Style images restyle draws itself, so its bundled styles owe nothing to anyone's artwork.

Each drawing is vivid, high-contrast and of middle brightness: what the offline (random-feature)
losses transfer well (see README, "Training your own style"). All are deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["DRAWINGS", "draw_style"]

Drawing = Callable[[int, int], Image.Image]


def _nearest_two(points: NDArray[np.float64], size: int) -> tuple[NDArray[np.intp],
                                                                   NDArray[np.float64]]:
    """Index of the nearest point per pixel, and the distance gap to the second nearest."""
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.sqrt((yy[..., None] - points[:, 0]) ** 2 + (xx[..., None] - points[:, 1]) ** 2)
    part = np.partition(d, 1, axis=2)
    return np.argmin(d, axis=2), part[..., 1] - part[..., 0]


def mosaic(seed: int, size: int) -> Image.Image:
    """Voronoi cells in bright primaries with dark grout, like a glass mosaic."""
    rng = np.random.default_rng(seed)
    palette = np.array([[230, 40, 50], [250, 200, 30], [30, 120, 220], [40, 180, 90],
                        [250, 120, 20], [150, 50, 180], [240, 240, 230], [20, 200, 200]],
                       dtype=np.float64)
    points = rng.uniform(0, size, size=(max(2, int(90 * (size / 512) ** 2)), 2))
    nearest, gap = _nearest_two(points, size)
    img = palette[rng.integers(len(palette), size=len(points))][nearest]
    img *= 0.85 + 0.15 * rng.random((size, size, 1))
    img[gap < 3.0 * size / 512] = (20, 20, 25)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def sunset(seed: int, size: int) -> Image.Image:
    """Wavy bands in sunset colours (coral, magenta, violet, gold) with ink outlines."""
    rng = np.random.default_rng(seed)
    palette = np.array([[255, 94, 77], [255, 180, 60], [200, 40, 120], [110, 50, 160],
                        [255, 220, 120], [40, 60, 140]], dtype=np.float64)
    yy, xx = np.mgrid[0:size, 0:size] / size
    field = yy * 9 + 0.9 * np.sin(xx * 7 + rng.uniform(0, 6)) + 0.4 * np.sin(xx * 19 + yy * 5)
    band = np.floor(field).astype(int) % len(palette)
    img = palette[band]
    frac = field - np.floor(field)
    img[(frac < 0.06) | (frac > 0.94)] = (30, 20, 40)
    img *= 0.9 + 0.1 * rng.random((size, size, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def popart(seed: int, size: int) -> Image.Image:
    """Comic-book panels: flat primaries, Ben-Day dots and heavy black outlines."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), (250, 245, 230))
    draw = ImageDraw.Draw(img)
    colours = [(235, 30, 40), (255, 215, 0), (20, 90, 200), (250, 245, 230), (0, 170, 170)]
    for _ in range(int(60 * (size / 512) ** 2)):
        x, y = rng.uniform(-0.1, 1.0, 2) * size
        w, h = rng.uniform(0.12, 0.4, 2) * size
        colour = colours[int(rng.integers(len(colours)))]
        box = (x, y, x + w, y + h)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour, outline=(10, 10, 10), width=max(3, size // 100))
        else:
            draw.rectangle(box, fill=colour, outline=(10, 10, 10), width=max(3, size // 100))
    arr = np.asarray(img).astype(np.float64)
    yy, xx = np.mgrid[0:size, 0:size]
    step = max(6, size // 48)
    dots = ((yy % step - step / 2) ** 2 + (xx % step - step / 2) ** 2) < (step * 0.3) ** 2
    light = arr.mean(axis=2) > 200
    arr[dots & light] = (235, 80, 120)
    blurred = Image.fromarray(arr.astype(np.uint8)).filter(ImageFilter.SMOOTH)
    return blurred


def pointillism(seed: int, size: int) -> Image.Image:
    """Seurat-like pointillism: a park landscape built only of round dots of pure colour, each
    dot the scene's colour pushed to a neighbouring pure hue, on a pale canvas between them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    horizon = 0.38 + 0.06 * np.sin(xx * 7.0 + rng.uniform(0, 6.3))
    sky = np.array([70, 140, 230]) * (1 - yy[..., None] / 0.5) + np.array([250, 200, 120]) * (
        yy[..., None] / 0.5)
    grass = np.array([60, 160, 60]) + np.array([150, 40, -20]) * np.sin(
        xx * 9.0 + yy * 5.0)[..., None].clip(0, 1)
    field = np.where((yy < horizon)[..., None], sky, grass)
    for _ in range(5):  # trees and shadows: dark blue-green masses
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.3, 0.8), rng.uniform(0.06, 0.14)
        mass = ((xx - cx) ** 2 + ((yy - cy) * 1.4) ** 2) < r ** 2
        field[mass] = (20, 80, 90)
    palette = np.array([(230, 40, 40), (250, 150, 30), (250, 230, 60), (60, 180, 70),
                        (30, 110, 220), (130, 60, 200), (250, 250, 240)], np.float64)
    img = Image.new("RGB", (size, size), (245, 238, 220))
    draw = ImageDraw.Draw(img)
    radius = max(2.0, size / 110)
    step = radius * 1.7
    centres = np.mgrid[0:size:step, 0:size:step].reshape(2, -1).T
    centres = centres + rng.uniform(-step / 2, step / 2, centres.shape)
    for y, x in centres[rng.permutation(len(centres))]:
        base = field[int(np.clip(y, 0, size - 1)), int(np.clip(x, 0, size - 1))]
        near = np.argsort(((palette - base) ** 2).sum(axis=1))[int(rng.integers(0, 2))]
        colour = tuple(int(c) for c in 0.35 * base + 0.65 * palette[near])
        r = radius * rng.uniform(0.8, 1.15)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return img


def brushwork(seed: int, size: int) -> Image.Image:
    """Thick oil-paint brushwork after Van Gogh's night skies: strokes 6–8 px wide and 18–40 px
    long laid edge to edge along a swirling flow, in ultramarine, cobalt, teal, ochre, cadmium
    yellow and white, each with a lighter ridge along one side; no canvas shows between them."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 6.3, 4)

    def angle(x: float, y: float) -> float:  # the flow: two interfering swirls
        u, v = x / size * 6.3, y / size * 6.3
        return float(np.sin(u * 0.9 + phases[0]) * 1.6 + np.cos(v * 1.3 + phases[1]) * 1.2
                     + np.sin((u + v) * 0.7 + phases[2]) * 0.8)

    def tone(x: float, y: float) -> float:  # broad light and dark areas pick the colours
        u, v = x / size * 6.3, y / size * 6.3
        return float(0.5 + 0.25 * np.sin(u * 0.8 + phases[3]) + 0.25 * np.cos(v * 0.6 - u * 0.4))

    dark = [(20, 40, 110), (30, 70, 160), (20, 110, 130), (40, 60, 140)]
    light = [(230, 190, 40), (245, 225, 120), (200, 140, 40), (240, 240, 225), (90, 150, 210)]
    img = Image.new("RGB", (size, size), (25, 45, 100))
    draw = ImageDraw.Draw(img)
    count = int(4.5 * size * size / 600)
    for _ in range(count):
        x, y = rng.uniform(-10, size + 10, 2)
        a = angle(x, y) + rng.normal(0, 0.15)
        half = rng.uniform(9, 20)
        dx, dy = np.cos(a) * half, np.sin(a) * half
        palette = light if rng.random() < tone(x, y) else dark
        colour = np.array(palette[int(rng.integers(len(palette)))], np.float64)
        colour = np.clip(colour * rng.uniform(0.85, 1.1), 0, 255)
        width = int(rng.integers(6, 9))
        draw.line((x - dx, y - dy, x + dx, y + dy), fill=tuple(int(c) for c in colour),
                  width=width)
        ox, oy = -np.sin(a) * width * 0.3, np.cos(a) * width * 0.3  # the ridge, lighter
        ridge = tuple(int(c) for c in np.clip(colour * 1.25 + 25, 0, 255))
        draw.line((x - dx * 0.8 + ox, y - dy * 0.8 + oy, x + dx * 0.8 + ox, y + dy * 0.8 + oy),
                  fill=ridge, width=max(1, width // 4))
    return img


DRAWINGS: dict[str, Drawing] = {"mosaic": mosaic, "sunset": sunset, "popart": popart,
                                "pointillism": pointillism, "brushwork": brushwork}


def draw_style(name: str, *, seed: int = 7, size: int = 512) -> Image.Image:
    """Draw the procedural style image ``name`` (one of :data:`DRAWINGS`).

    Example:
        >>> draw_style("mosaic", size=64).size
        (64, 64)
    """
    try:
        drawing = DRAWINGS[name]
    except KeyError:
        from restyle.errors import ConfigError

        raise ConfigError(f"no procedural style {name!r}: choose one of "
                          f"{', '.join(sorted(DRAWINGS))}") from None
    return drawing(seed, size)
