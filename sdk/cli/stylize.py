"""``restyle stylize MODEL INPUT... -o OUT``: stylise image files and folders, resumably."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from restyle.cli.options import add_stylize_options
from restyle.cli.registry import command

log = logging.getLogger("restyle.cli")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="an exported .onnx or .engine file, or a bundled style name")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (an image file name for a single input image)")
    add_stylize_options(p)
    p.add_argument("--batch-size", type=int, default=8, help="largest batch (default 8)")
    p.add_argument("--device", type=int, default=0, help="CUDA device index (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


@command("stylize", help="apply a style to image files and folders (resumable)",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.errors import ConfigError
    from restyle.images import IMAGE_SUFFIXES, save_image
    from restyle.paths import atomic_output
    from restyle.stylizer import Stylizer

    inputs = [Path(i) for i in args.inputs]
    missing = [str(i) for i in inputs if not i.exists()]
    if missing:
        raise ConfigError(f"input(s) not found: {', '.join(missing)}: check the paths")
    out = Path(args.output)
    strength, keep = float(args.strength), bool(args.preserve_color)
    written = skipped = failed = 0
    with Stylizer(args.model, backend=args.backend, batch_size=args.batch_size,
                  device=args.device, precision=args.precision) as st:
        info = st.info
        log.info("backend %s (%s, %s, %s)", info.backend, info.provider, info.precision,
                 info.device)
        if len(inputs) == 1 and inputs[0].is_file() and out.suffix.lower() in IMAGE_SUFFIXES:
            if out.exists() and not args.overwrite:
                skipped = 1
            else:
                image = st(inputs[0], strength=strength, preserve_color=keep)
                with atomic_output(out) as tmp:
                    save_image(image, tmp)
                written = 1
        else:
            files = [i for i in inputs if i.is_file()]
            folders = [i for i in inputs if i.is_dir()]
            reports = []
            if files:
                reports.append(st.stylize_files(files, out, strength=strength,
                                                preserve_color=keep, overwrite=args.overwrite,
                                                progress=not args.no_progress))
            for folder in folders:
                target = out if len(inputs) == 1 else out / folder.resolve().name
                reports.append(st.stylize_folder(folder, target, strength=strength,
                                                 preserve_color=keep, overwrite=args.overwrite,
                                                 progress=not args.no_progress))
            written = sum(len(r.written) for r in reports)
            skipped = sum(len(r.skipped) for r in reports)
            failed = sum(len(r.failed) for r in reports)
    sys.stdout.write(f"{written} written, {skipped} skipped (already done), {failed} failed "
                     f"-> {out}\n")
    return 1 if failed else 0
