"""Issue 20, item 2: does the style-image path carry a style image's *structure*? The texture
statistic of models trained from a style image, on held-out photos, beside the palette-only
baseline (histogram matching = 1.0) and the patch-transfer teacher itself.

    python benchmarks/texture_style_image.py STYLE.png NAME=MODEL.onnx [NAME=MODEL.onnx ...]
        [--teacher] [--json OUT] [--sheet OUT.jpg]

Each model is run (ONNX Runtime, fp32) on the held-out photos (astronaut, camera, coffee, coins:
none is a training photo) and scored against ``STYLE.png`` with
:mod:`restyle.training.texture` (not a training loss: oriented-gradient and LBP histograms;
1.0 = histogram matching to the style, lower = more of its texture), with how much of each
photo's layout survives beside it (``content``:
:func:`restyle.training.texture.content_correlation`, 1.0 = the photo's own edges; a line drawing
scores lower than a painting of the same scene). ``--teacher`` also scores the patch transfer
(:mod:`restyle.training.effects.patches`) that ``restyle train --patches`` distils: the ceiling
the trained model approaches. Needs the ``train`` and ``dev`` extras.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _held_out import held_out_photos
from PIL import Image

from restyle import Stylizer
from restyle.training.data import load_rgb
from restyle.training.effects.patches import patch_transfer
from restyle.training.texture import content_correlation, texture_score


def _scores(photos: dict[str, np.ndarray], style: np.ndarray, results: list[np.ndarray]
            ) -> list[float]:
    return [texture_score(p, r, style).score for p, r in zip(photos.values(), results,
                                                             strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("style", type=Path)
    parser.add_argument("models", nargs="+", metavar="NAME=MODEL.onnx")
    parser.add_argument("--teacher", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args(argv)
    style = (load_rgb(args.style) * 255.0 + 0.5).astype(np.uint8)
    photos = held_out_photos()
    rows: list[dict[str, object]] = []
    sheet: list[tuple[str, list[Image.Image]]] = [
        ("photo", [Image.fromarray(p) for p in photos.values()])]
    runs: list[tuple[str, list[np.ndarray]]] = []
    if args.teacher:
        runs.append(("patch transfer (teacher)",
                     [patch_transfer(p, style, seed=i) for i, p in enumerate(photos.values())]))
    for spec in args.models:
        name, _, path = spec.partition("=")
        with Stylizer(path, backend="ort_cpu", precision="fp32") as st:
            runs.append((name, [np.asarray(st(p)) for p in photos.values()]))
    for name, results in runs:
        scores = _scores(photos, style, results)
        content = [content_correlation(p, r) for p, r in zip(photos.values(), results,
                                                            strict=True)]
        row = {"model": name, "style": args.style.name,
               "texture": [round(s, 2) for s in scores],
               "texture_mean": round(float(np.mean(scores)), 2),
               "content": [round(c, 2) for c in content],
               "content_mean": round(float(np.mean(content)), 2)}
        rows.append(row)
        sheet.append((name, [Image.fromarray(r) for r in results]))
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
    if args.sheet:
        from restyle.gallery import write_gallery

        sheet.insert(0, ("style", [Image.fromarray(style)] * len(photos)))
        write_gallery(sheet, args.sheet, height=200, label_width=170)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
