"""Measure the bundled styles on held-out photos: the texture statistic and, for styles learnt
from a procedural effect, PSNR against the effect's rendering.

    python benchmarks/texture_styles.py [--styles-dir DIR] [--only NAME ...] [--json OUT]
                                        [--sheet OUT.jpg]

``--sheet`` also writes a side-by-side picture: per style, each held-out photo's reference (the
effect's rendering, or the style image) and the model's result.

Held-out photos: astronaut, camera, coffee, coins (scikit-image; none is a training pair).
Reference for the texture statistic (:mod:`restyle.training.texture`; 1.0 = palette-only
histogram matching, lower = more of the reference's texture): for an effect style the effect's
rendering of the same photo, for a style-image style its procedurally drawn style image. Needs
the ``train`` and ``dev`` extras (scikit-image photos, the effects) and ONNX Runtime.
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
from restyle.modelinfo import read_model_info
from restyle.training.bundled import BUNDLED, SEED
from restyle.training.effects import render_effect
from restyle.training.procedural import draw_style
from restyle.training.texture import texture_score


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-12))


def measure(styles_dir: Path, only: list[str] | None,
            sheet: list[tuple[str, list[Image.Image]]] | None = None) -> list[dict[str, object]]:
    photos = held_out_photos()
    if sheet is not None:  # the sheet's first row: the photos
        sheet.append(("photo", [Image.fromarray(p) for p in photos.values()]))
    rows: list[dict[str, object]] = []
    for recipe in BUNDLED:
        path = styles_dir / f"{recipe.name}.onnx"
        if (only and recipe.name not in only) or not path.is_file():
            continue
        info = read_model_info(path)
        row: dict[str, object] = {"style": recipe.name, "arch": info.arch,
                                  "mb": round(path.stat().st_size / 1e6, 2),
                                  "effect": recipe.effect}
        scores, psnrs, base, palette = [], [], [], []
        refs: list[Image.Image] = []
        outs: list[Image.Image] = []
        style_image = None
        if recipe.effect is None:
            style_image = np.asarray(draw_style(recipe.image or recipe.name, seed=SEED))
        with Stylizer(path, backend="ort_cpu") as st:
            for photo in photos.values():
                result = np.asarray(st(photo))
                if recipe.effect is not None:
                    reference = render_effect(recipe.effect, photo)
                    psnrs.append(psnr(result, reference))
                    base.append(psnr(photo, reference))
                else:
                    reference = style_image
                ts = texture_score(photo, result, reference)
                scores.append(ts.score)
                palette.append(ts.palette_distance)
                refs.append(Image.fromarray(reference))
                outs.append(Image.fromarray(result))
        row["texture"] = [round(s, 2) for s in scores]
        row["texture_mean"] = round(float(np.mean(scores)), 2)
        row["palette_distance"] = [round(d, 3) for d in palette]
        if psnrs:
            row["psnr"] = [round(p, 1) for p in psnrs]
            row["psnr_photo"] = [round(p, 1) for p in base]
        rows.append(row)
        if sheet is not None:
            if recipe.effect is not None:
                sheet.append((f"{recipe.effect} (target)", refs))
            sheet.append((recipe.name, outs))
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles-dir", type=Path,
                        default=Path(__file__).resolve().parents[1] / "sdk" / "styles")
    parser.add_argument("--only", action="append")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args(argv)
    sheet: list[tuple[str, list[Image.Image]]] | None = None
    if args.sheet:
        sheet = []
    rows = measure(args.styles_dir, args.only, sheet)
    if sheet is not None and args.sheet is not None:
        from restyle.gallery import write_gallery

        write_gallery(sheet, args.sheet, height=200, label_width=150)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
