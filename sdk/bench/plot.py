"""Throughput against batch size per backend, drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

import os
from collections import defaultdict

from PIL import Image, ImageDraw, ImageFont

from restyle.bench.runner import BenchReport
from restyle.paths import atomic_output

__all__ = ["plot_throughput"]

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def plot_throughput(report: BenchReport, path: str | os.PathLike[str], *,
                    size: tuple[int, int] = (900, 560)) -> None:
    """Write a PNG: frames/s (y) against batch size (x), one line per backend and resolution."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in report.results:
        series[f"{r.name} {r.height}x{r.width}"].append((r.batch, r.fps))
    width, height = size
    left, right, top, bottom = 70, 260, 40, 60
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.font = ImageFont.load_default(size=13)
    batches = sorted({b for pts in series.values() for b, _ in pts}) or [1]
    top_fps = max((f for pts in series.values() for _, f in pts), default=1.0) * 1.1
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(batch: int, fps: float) -> tuple[float, float]:
        i = batches.index(batch)
        x = left + (plot_w * i / (len(batches) - 1) if len(batches) > 1 else plot_w / 2)
        return x, top + plot_h * (1 - fps / top_fps)

    draw.rectangle([left, top, left + plot_w, top + plot_h], outline="black")
    for k in range(6):
        fps = top_fps * k / 5
        _, y = xy(batches[0], fps)
        draw.line([left - 4, y, left, y], fill="black")
        draw.text((8, y - 6), f"{fps:.1f}", fill="black")
    for b in batches:
        x, _ = xy(b, 0)
        draw.line([x, top + plot_h, x, top + plot_h + 4], fill="black")
        draw.text((x - 4, top + plot_h + 8), str(b), fill="black")
    draw.text((left + plot_w / 2 - 30, height - 24), "batch size", fill="black")
    draw.text((left, 12), f"frames/s by batch size: {os.path.basename(report.model)}",
              fill="black")
    for i, (label, pts) in enumerate(sorted(series.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        coords = [xy(b, f) for b, f in sorted(pts)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=3)
        for x, y in coords:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        ly = top + 16 * i
        draw.rectangle([width - right + 12, ly + 2, width - right + 24, ly + 12], fill=colour)
        draw.text((width - right + 30, ly), label[:34], fill="black")
    with atomic_output(path) as tmp:
        img.save(tmp, format="PNG")
