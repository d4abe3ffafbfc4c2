"""Command-line options several subcommands share (``stylize``, ``video``, ``ray``)."""

from __future__ import annotations

import argparse

__all__ = ["PRECISION_HELP", "add_stylize_options"]

PRECISION_HELP = ("auto (default: the fastest that passes the quality gate), fp32, bf16, fp16 or "
                  "int8 (needs MODEL.int8.onnx from `restyle quantize`)")


def add_stylize_options(p: argparse.ArgumentParser, *, files: bool = True) -> None:
    """``--backend``, ``--precision`` and ``--strength``; with ``files``, also
    ``--preserve-color`` and the resume switch ``--overwrite`` of the commands that write one
    output per input file."""
    p.add_argument("--backend", default="auto",
                   help="auto (default), tensorrt, ort_cuda, openvino or ort_cpu")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--strength", type=float, default=1.0,
                   help="0 keeps the input, 1 (default) is the full style")
    if files:
        p.add_argument("--preserve-color", action="store_true",
                       help="keep the input's colours, restyle only its luminance")
        p.add_argument("--overwrite", action="store_true",
                       help="redo outputs that exist (default: skip them, so a rerun resumes)")
