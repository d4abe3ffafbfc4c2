"""``restyle stylize MODEL INPUT... -o OUT``: stylise image files and folders, resumably.

Exit codes: 0 when every input was written (or already done), 1 when some inputs failed (each is
named with its reason at the end of the output), 2 for a usage error (nothing was done), 130 on
Ctrl-C (finished outputs are kept; the same command resumes).
"""

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
    from restyle.images import IMAGE_SUFFIXES
    from restyle.jobs.folder import file_pairs, folder_pairs
    from restyle.stylizer import Stylizer

    inputs = [Path(i) for i in args.inputs]
    missing = [str(i) for i in inputs if not i.exists()]
    if missing:
        raise ConfigError(f"input(s) not found: {', '.join(missing)}: check the paths")
    out = Path(args.output)
    if len(inputs) == 1 and inputs[0].is_file() and out.suffix.lower() in IMAGE_SUFFIXES:
        pairs = [(inputs[0], out)]  # one image to one file name
    else:
        files = [i for i in inputs if i.is_file()]
        folders = [(i, out if len(inputs) == 1 else out / i.resolve().name)
                   for i in inputs if i.is_dir()]
        pairs = file_pairs(files, out) + [p for folder, target in folders
                                          for p in folder_pairs(folder, target)]
    with Stylizer(args.model, backend=args.backend, batch_size=args.batch_size,
                  device=args.device, precision=args.precision) as st:
        info = st.info
        log.info("backend %s (%s, %s, %s)", info.backend, info.provider, info.precision,
                 info.device)
        report = st.stylize_pairs(pairs, strength=float(args.strength),
                                  preserve_color=bool(args.preserve_color),
                                  overwrite=args.overwrite, progress=not args.no_progress)
    lines = [f"{len(report.written)} written, {len(report.skipped)} skipped (already done), "
             f"{len(report.failed)} failed -> {out}"]
    lines += [f"failed: {path}: {reason}" for path, reason in report.failed]
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if report.failed else 0
