"""``restyle video IN OUT --model MODEL``: stylise a video, keeping timing, audio and metadata.

The command is :meth:`restyle.Stylizer.stylize_video` with its arguments as flags: one route, the
same resume rules as the API.
"""

from __future__ import annotations

import argparse
import logging
import sys

from restyle.cli.options import add_stylize_options
from restyle.cli.registry import command
from restyle.errors import ConfigError

log = logging.getLogger("restyle.cli")


def parse_height(text: str) -> int:
    """``720p`` / ``720`` → 720."""
    value = text.lower().removesuffix("p")
    if value.isdigit() and int(value) >= 2:
        return int(value)
    raise ConfigError(f"--size {text!r} is not understood: give a height such as 720p or 1080")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="source video (never modified)")
    p.add_argument("output", help="output video; its suffix picks the container (.mp4, .mkv, "
                                  ".webm, .mov)")
    p.add_argument("--model", required=True, help="ONNX model, TensorRT engine or bundled style")
    add_stylize_options(p, files=False)
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the input's colours, restyle only its luminance")
    p.add_argument("--device", type=int, default=0, help="CUDA device index (default 0)")
    p.add_argument("--batch", type=int, default=8, help="frames per backend call (default 8)")
    p.add_argument("--size", type=parse_height, default=None,
                   help="output height such as 720p (aspect kept); default: the source's")
    p.add_argument("--codec", default="libx264",
                   help="libx264 (default), libx265, libvpx-vp9, libsvtav1, h264_nvenc")
    p.add_argument("--crf", type=int, default=18, help="constant quality, lower is better "
                                                      "(default 18)")
    p.add_argument("--preset", default=None, help="encoder speed preset, e.g. veryfast")
    p.add_argument("--pix-fmt", default=None,
                   help="encoded pixel format (default yuv420p, or the source's 4:4:4 format "
                        "for odd sizes; yuv444p keeps odd sizes exact)")
    p.add_argument("--temporal", action="store_true",
                   help="reduce flicker with a motion-aware temporal blend")
    p.add_argument("--temporal-strength", type=float, default=0.8,
                   help="weight of the previous output where nothing moved (default 0.8)")
    p.add_argument("--temporal-threshold", type=float, default=12.0,
                   help="input change (0-255) above which no blending happens (default 12)")
    p.add_argument("--flicker", action="store_true",
                   help="report the flicker metric (output minus input frame-to-frame change)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its finished segments")
    p.add_argument("--segment-frames", type=int, default=600,
                   help="frames per segment kept on interruption (default 600)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="write the frames a truncated source still decodes (default: error)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(_resume_hint="add --resume to the same command to continue")


@command("video", help="stylise a video (timing, audio, rotation and colour range kept)",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle import Stylizer
    from restyle.video.temporal import TemporalBlend

    temporal = (TemporalBlend(strength=args.temporal_strength,
                              threshold=args.temporal_threshold) if args.temporal else None)
    with Stylizer(args.model, backend=args.backend, batch_size=args.batch,
                  device=args.device, precision=args.precision) as st:
        report = st.stylize_video(
            args.input, args.output, strength=args.strength, preserve_color=args.preserve_color,
            size=args.size, codec=args.codec, crf=args.crf, preset=args.preset,
            pix_fmt=args.pix_fmt, temporal=temporal, resume=args.resume,
            progress=not (args.no_progress or args.quiet), measure_flicker=args.flicker,
            segment_frames=args.segment_frames, allow_truncated=args.allow_truncated,
        )
        backend = st.info.backend
    lines = [
        f"wrote {report.dst}: {report.frames} frames {report.width}x{report.height} at "
        f"{float(report.frame_rate):.3f} fps ({report.codec}), {report.fps:.1f} frames/s on "
        f"{backend}" + (f", resumed after {report.resumed_from}" if report.resumed_from else ""),
        "audio: " + ("; ".join(report.audio) if report.audio else "none"),
    ]
    if report.flicker is not None:
        lines.append(f"flicker: {report.flicker:.3f}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
