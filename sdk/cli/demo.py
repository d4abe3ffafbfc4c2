"""``restyle demo``: every bundled style on the sample photos and a sample clip, into ``out/``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from restyle.cli.options import PRECISION_HELP
from restyle.cli.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--backend", default="auto", help="backend (default: the fastest available)")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--no-video", action="store_true", help="skip the sample clip")
    p.add_argument("--style", action="append", default=None,
                   help="only these bundled styles (repeatable; default: all)")
    p.add_argument("--gallery", type=Path, metavar="FILE.jpg",
                   help="where to write the gallery (default: OUT/gallery.jpg; `make demo` "
                        "writes the README's docs/gallery.jpg)")


@command("demo", help="stylise the sample photos and a sample clip with every bundled style",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from restyle import Stylizer
    from restyle.errors import ConfigError
    from restyle.gallery import write_gallery
    from restyle.paths import atomic_output
    from restyle.samples import make_sample_clip, sample_photos
    from restyle.styles import list_styles

    styles = [s for s in list_styles() if not args.style or s.name in args.style]
    if not styles:
        raise ConfigError("no bundled style found (or none of those named): see `restyle styles`")
    out = Path(args.out)
    photos = sample_photos()
    clip = None
    if not args.no_video:
        clip = make_sample_clip(out / "sample.mp4")
    images = [Image.open(p).convert("RGB") for p in photos]
    rows: list[tuple[str, list[Image.Image]]] = [("photo", images)]
    lines = []
    for style in styles:
        with Stylizer(style.name, backend=args.backend, precision=args.precision) as st:
            st.stylize_batch(images[:1])  # warm-up: first-run allocations are not the speed
            start = time.perf_counter()
            results = st.stylize_batch(images)
            photo_fps = len(images) / (time.perf_counter() - start)
            rows.append((style.name, results))
            for src, result in zip(photos, results, strict=True):
                with atomic_output(out / style.name / f"{src.stem}.jpg") as tmp:
                    result.save(tmp, format="JPEG", quality=92)
            line = (f"{style.name:<14} {len(images)} photos {photo_fps:6.1f} frames/s "
                    f"on {st.info.backend}")
            if clip is not None:
                report = st.stylize_video(clip, out / style.name / "sample.mp4", progress=False)
                line += f"; clip {report.frames} frames {report.fps:6.1f} frames/s"
        lines.append(line)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    gallery = args.gallery or out / "gallery.jpg"
    write_gallery(rows, gallery)
    sys.stdout.write(f"wrote {out}/ ({len(lines)} style(s) × {len(photos)} photos"
                     + (", the sample clip" if clip is not None else "") + f"), {gallery}\n")
    return 0
