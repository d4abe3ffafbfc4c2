"""Measure (issue 20, item 2): the style image's own shapes, painted with a photo's colours.

    python benchmarks/experiment_shapes.py STYLE.png OUT_DIR [--model MODEL.onnx]

The shapes are :func:`restyle.training.shapes.segment_style`'s (what ``restyle train --shapes``
stores); the colours are the photo histogram-matched to the style (palette only, the texture
statistic's 1.0), or with ``--model`` the output of a restyle model run by the ``Stylizer`` —
a model trained with ``--shapes`` comes out painted, any other is painted here. Prints the
texture statistic and the content correlation on the held-out photos and writes each result
and a strip (docs/training-experiments.md, "Session 11").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _held_out import held_out_photos, score_results
from PIL import Image

from restyle import Stylizer
from restyle.shapes import ShapePainter
from restyle.training.shapes import segment_style
from restyle.training.texture import content_correlation, histogram_match


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("style", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, default=None,
                        help="a restyle model whose output gives the colours")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    style = np.asarray(Image.open(args.style).convert("RGB"))
    painter = ShapePainter(segment_style(style))
    stylizer = Stylizer(args.model, backend="ort_cpu") if args.model else None
    pairs = []
    try:
        for i, photo in enumerate(held_out_photos().values()):
            if stylizer is None:
                result = painter.paint(histogram_match(photo, style))
            elif stylizer.info.shapes:
                result = stylizer(photo)
            else:
                result = painter.paint(stylizer(photo))
            Image.fromarray(result).save(args.out / f"{i}.png")
            pairs.append((photo, result))
    finally:
        if stylizer is not None:
            stylizer.close()
    scores = score_results(pairs, style, args.out / "sheet.png")
    contents = [round(content_correlation(photo, result), 2) for photo, result in pairs]
    sys.stdout.write(json.dumps({
        "style": args.style.name, "model": str(args.model) if args.model else None,
        "shapes": painter.shapes.count, "gap": painter.shapes.gap_colour,
        "texture": scores, "mean": round(float(np.mean(scores)), 2),
        "content": contents, "content_mean": round(float(np.mean(contents)), 2)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
