"""``restyle quantize MODEL.onnx``: an int8 model beside the float one, gated by quality."""

from __future__ import annotations

import argparse
import sys

from restyle.cli.registry import command


def add_int8_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The calibration and gate options ``quantize`` and ``export --int8`` share."""
    from restyle.precision import CALIBRATION_CROP, MIN_PSNR_DB

    p.add_argument("--calibration", metavar="DIR",
                   help="photos to calibrate on (default: restyle's bundled photos)")
    p.add_argument("--heldout", metavar="DIR",
                   help="photos for the quality gate, never the calibration ones (default: "
                        "scikit-image's photos, or the bundled ones with --calibration)")
    p.add_argument("--crops", type=int, default=64, help="calibration crops (default 64)")
    p.add_argument("--crop-size", type=int, default=CALIBRATION_CROP,
                   help=f"crop side in px (default {CALIBRATION_CROP})")
    p.add_argument("--min-psnr", type=float, default=MIN_PSNR_DB, metavar="DB",
                   help=f"quality gate: least PSNR against fp32 over the held-out photos "
                        f"(default {MIN_PSNR_DB:g})")
    p.add_argument("--max-float-layers", type=int, default=None, metavar="N",
                   help="when the gate fails, restore up to N of the costliest convolutions to "
                        "fp32 to pass it (default: a quarter of them; 0: refuse at once)")


def write_int8_report(report: object) -> None:
    """Print what :func:`restyle.export.quantize` wrote."""
    from restyle.export.int8 import QuantizeReport

    if not isinstance(report, QuantizeReport):  # pragma: no cover - the caller's bug
        raise TypeError(report)
    cal = report.calibration
    out = sys.stdout
    out.write(f"int8        {report.path}\n")
    out.write(f"calibrated  {cal['crops']} crops of {cal['crop_size']} px from "
              f"{len(cal['photos'])} photo(s) ({cal['source']})\n")
    out.write(f"quality     {report.gate.summary()}; {report.gate.photos}; "
              f"{report.gate.runtime}\n")
    if report.large is not None:
        out.write(f"at 1080p    min {report.large.min_psnr_db:.1f} dB, mean "
                  f"{report.large.mean_psnr_db:.1f} dB (the same photos enlarged; gated "
                  "too)\n")
    restored = report.info.quantization.get("float_layers", {}).get("restored", {})
    if restored:
        out.write(f"in float    {', '.join(restored)} (restored to pass the gate)\n")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="an fp32 restyle ONNX model")
    p.add_argument("-o", "--output", metavar="OUT.onnx",
                   help="the int8 model (default: MODEL.int8.onnx beside MODEL, where "
                        "Stylizer(precision='int8' or 'auto') finds it)")
    add_int8_options(p)


@command("quantize", help="write an int8 model (NNCF, gated by PSNR on held-out photos)",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.export.int8 import quantize
    from restyle.styles import resolve_model

    report = quantize(resolve_model(args.model), args.output, calibration=args.calibration,
                      heldout=args.heldout, crops=args.crops, crop_size=args.crop_size,
                      min_psnr_db=args.min_psnr, max_float_layers=args.max_float_layers)
    write_int8_report(report)
    return 0
