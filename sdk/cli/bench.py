"""``restyle bench``: throughput of restyle's backends against the baselines, in one run."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from restyle.cli.registry import command
from restyle.errors import ConfigError

log = logging.getLogger("restyle.cli")

_NAMED = {"256": (256, 256), "512": (512, 512), "720p": (720, 1280), "1080p": (1080, 1920)}


def parse_resolution(text: str) -> tuple[int, int]:
    """``512`` / ``720p`` / ``HxW`` → (height, width)."""
    if text in _NAMED:
        return _NAMED[text]
    parts = text.lower().split("x")
    try:
        if len(parts) == 1:
            side = int(parts[0])
            return side, side
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise ConfigError(f"resolution {text!r} is not understood: use 512, 720p, 1080p or HxW")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="*", default=None,
                   help="ONNX model(s) or bundled style(s) (default: psychedelic; several with "
                        "--precision)")
    p.add_argument("--precision", action="append", default=None,
                   help="measure these precisions against fp32, interleaved in one run: fp32, "
                        "bf16, fp16, int8 or all (repeatable); frames/s, ratio to fp32, PSNR "
                        "against fp32 on held-out photos, FLOP efficiency against the GEMM "
                        "ceiling of the precision executed")
    p.add_argument("--backend", action="append", default=None,
                   help="backend(s) to measure: auto, tensorrt, ort_cuda, openvino, ort_cpu "
                        "(repeatable; default auto)")
    p.add_argument("--resolution", action="append", default=None,
                   help="512, 720p, 1080p or HxW (repeatable; default 512)")
    p.add_argument("--batch", action="append", type=int, default=None,
                   help="batch size(s) (repeatable; default 1)")
    p.add_argument("--baseline", action="append", default=None,
                   choices=["torch-eager", "torch-compile", "torch-cuda", "onnxruntime",
                            "openvino", "unfolded", "none"],
                   help="baselines measured in the same run (default: torch-eager, onnxruntime, "
                        "openvino); unfolded: plain ONNX Runtime and OpenVINO on the model "
                        "re-exported without restyle's graph rewrites, as a plain "
                        "torch.onnx.export gives it (needs restyle[train])")
    p.add_argument("--repeat", type=int, default=7, help="timed runs at least (default 7)")
    p.add_argument("--video", action="store_true",
                   help="measure end-to-end video frames/s (decode → stylise → encode) against "
                        "bare inference frames/s at the same resolution and batch")
    p.add_argument("--peer", metavar="FILE",
                   help="a fast_neural_style .pth or onnx/models .onnx: restyle on its import "
                        "against its own project's way (PyTorch eager as neural_style.py; ONNX "
                        "Runtime on the zoo file at 224), default at 512 and 1080p")
    p.add_argument("--json", metavar="OUT", help="write the full report as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="draw frames/s against batch size")


#: What ``restyle bench`` measures without a model: a ``compact`` style (``ink`` is ``realtime``).
DEFAULT_MODEL = "psychedelic"


@command("bench", help="measure frames/s, latency and efficiency against baselines",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.bench.runner import BenchConfig, format_table, run_bench
    from restyle.paths import atomic_output
    from restyle.styles import list_styles

    if args.peer:
        return _run_peer(args)
    if args.precision:
        return _run_precision(args)
    if len(args.model or []) > 1:
        raise ConfigError("several models are measured together with --precision; without it, "
                          "run `restyle bench` once per model")
    model = args.model[0] if args.model else None
    if model is None:
        styles = list_styles()
        if not styles:
            raise ConfigError("no model given and no bundled style installed: "
                              "`restyle bench MODEL.onnx`")
        names = [s.name for s in styles]
        model = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
    if args.video:
        return _run_video(model, args)
    baselines = tuple(b for b in (args.baseline or ["torch-eager", "onnxruntime", "openvino"])
                      if b != "none")
    cfg = BenchConfig(
        model=model,
        backends=tuple(args.backend or ["auto"]),
        resolutions=tuple(parse_resolution(r) for r in (args.resolution or ["512"])),
        batches=tuple(args.batch or [1]),
        baselines=baselines,
        repeat=args.repeat,
    )
    report = run_bench(cfg, on_result=lambda r: log.info("%s %dx%d b%d: %.2f frames/s", r.name,
                                                         r.height, r.width, r.batch, r.fps))
    sys.stdout.write(format_table(report) + "\n")
    if args.json:
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(report.as_dict(), indent=2))
    if args.plot:
        from restyle.bench.plot import plot_throughput

        plot_throughput(report, args.plot)
    return 0


def _run_precision(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from restyle.bench.precision import format_precision_table, measure_precisions
    from restyle.paths import atomic_output
    from restyle.precision import check_precision

    precisions = [check_precision(p, allow_all=True) for p in args.precision]
    backends = list(args.backend or ["auto"])
    with tempfile.TemporaryDirectory(prefix="restyle-bench-") as scratch:
        report = measure_precisions(
            args.model or [DEFAULT_MODEL], backends=backends, precisions=precisions,
            resolutions=[parse_resolution(r) for r in (args.resolution or ["512"])],
            rounds=args.repeat, scratch=Path(scratch),
            on_row=lambda r: log.info("%s %s %dx%d %s: %.2f frames/s", r.model, r.backend,
                                      r.height, r.width, r.precision, r.fps))
    sys.stdout.write(format_precision_table(report) + "\n")
    if args.json:
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(report.as_dict(), indent=2))
    return 0


def _run_video(model: str, args: argparse.Namespace) -> int:
    from restyle import Stylizer
    from restyle.bench.video import measure_video_throughput
    from restyle.paths import atomic_output

    rows = []
    for backend in args.backend or ["auto"]:
        for res in args.resolution or ["256"]:
            h, w = parse_resolution(res)
            for batch in args.batch or [8]:
                with Stylizer(model, backend=backend, batch_size=batch) as st:
                    r = measure_video_throughput(st.stylize_batch, height=h, width=w,
                                                 batch_size=batch, repeat=max(1, args.repeat // 2))
                    name = st.info.backend
                rows.append({"backend": name, **r.as_dict()})
                sys.stdout.write(f"{name:<9} {r.line()}\n")
    if args.json:
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(rows, indent=2))
    return 0


def _run_peer(args: argparse.Namespace) -> int:
    from restyle.bench.peer import format_peer_table, run_peer_bench
    from restyle.paths import atomic_output

    rows = run_peer_bench(args.peer, resolutions=tuple(
        parse_resolution(r) for r in (args.resolution or ["512", "1080p"])),
        backend=(args.backend or ["auto"])[0], repeat=args.repeat)
    sys.stdout.write(format_peer_table(rows) + "\n")
    if args.json:
        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    return 0
