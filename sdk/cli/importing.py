"""``restyle import FILE --onnx OUT.onnx``: a model trained elsewhere as a checked restyle model."""

from __future__ import annotations

import argparse
import sys

from restyle.cli.registry import command


def _size(text: str) -> tuple[int, int]:
    from restyle.errors import ConfigError

    parts = text.lower().split("x")
    if len(parts) == 2 and all(p.isdigit() and int(p) > 0 for p in parts):
        return int(parts[0]), int(parts[1])
    raise ConfigError(f"check size {text!r} is not HxW (e.g. 333x517)")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="FILE",
                   help="a fast_neural_style .pth/.model, an onnx/models fast_neural_style "
                        ".onnx (opset 8/9), an AnimeGANv2 .pt, a CycleGAN/pix2pix "
                        "latest_net_G.pth or an AnimeGANv3 .onnx (recognised by content)")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--format", default=None,
                   help="read the file as this format instead of recognising it: "
                        "fast_neural_style, onnx_fast_neural_style, animegan2, cyclegan or "
                        "animeganv3")
    p.add_argument("--style-name", help="style name to record (default: the file's stem)")
    p.add_argument("--description", help="one line describing the style")
    p.add_argument("--attribution", help="where the model and its style came from")
    p.add_argument("--license", help="the model's licence")
    p.add_argument("--check-sizes", metavar="HxW,...", default=None,
                   help="photo sizes at which the import must match the source (default "
                        "224x224,333x517,97x131)")
    p.add_argument("--tolerance", type=int, default=1,
                   help="largest difference from the source allowed, in grey levels (default 1)")
    p.add_argument("--align-corners", action="store_true",
                   help="AnimeGANv2: upsample to the exact size with aligned corners, as its "
                        "hubconf.py does (any size), instead of x2 as its test.py does")
    p.add_argument("--no-fold", action="store_true",
                   help="keep upsample + convolution pairs as they are")


@command("import", help="import a model trained elsewhere (fast_neural_style, ONNX zoo, "
                        "AnimeGAN, CycleGAN) as a checked restyle model", configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.export.importers import import_model
    from restyle.export.importers.check import DEFAULT_PHOTO_SIZES

    sizes = (tuple(_size(s) for s in args.check_sizes.split(",")) if args.check_sizes
             else DEFAULT_PHOTO_SIZES)
    result = import_model(args.source, args.onnx, format=args.format, style=args.style_name,
                          description=args.description, attribution=args.attribution,
                          license=args.license, sizes=sizes, tolerance=args.tolerance,
                          fold=not args.no_fold, align_corners=args.align_corners)
    out = sys.stdout
    out.write(f"found       {result.detection.summary}\n")
    out.write(f"onnx        {result.path}\n")
    folded = f", {result.folded} upsample+conv pairs folded" if result.folded else ""
    out.write(f"style       {result.info.style} ({result.info.arch}, uint8 NHWC I/O{folded})\n")
    out.write(f"source      sha256 {result.source_sha256}\n")
    checked = ", ".join(f"{c.size[0]}x{c.size[1]}" for c in result.checks)
    out.write(f"verified    against the source's own forward pass on photos at {checked}: max "
              f"{result.max_diff} grey level(s) apart\n")
    return 0
