"""``restyle doctor --gpu [--json OUT]``: prove the GPU path on this machine (or say why not)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from restyle.cli.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpu", action="store_true", required=True,
                   help="check the GPU path: TensorRT builds and cache, every GPU backend against "
                        "ort_cpu, streams, threads, CUDA graphs, pycuda, memory, throughput")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="write the full report as JSON to OUT")
    p.add_argument("--model", type=Path, default=None,
                   help="ONNX model to check with (default: the bundled psychedelic style)")
    p.add_argument("--budget-s", type=float, default=480.0,
                   help="stop starting parts after this many seconds (default: 480)")


@command("doctor", help="check that the GPU path works here, part by part (--gpu)",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.bench.gpu_check import run_gpu_check

    report = run_gpu_check(args.json, model=args.model, budget_s=args.budget_s)
    for part in report["parts"]:
        why = f"  {part['reason']}" if part["reason"] else ""
        sys.stdout.write(f"{part['name']:<26} {part['status']:<8} {part['seconds']:>7.1f} s{why}\n")
    counts = report["counts"]
    sys.stdout.write(f"gpu check: {counts['ok']} ok, {counts['failed']} failed, "
                     f"{counts['skipped']} skipped in {report['seconds']:.0f} s"
                     + (f"; report {args.json}" if args.json else "") + "\n")
    return 0 if report["ok"] else 1
