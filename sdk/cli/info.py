"""``restyle info [MODEL]``: the environment, or a model file's metadata."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from restyle.cli.registry import command

log = logging.getLogger("restyle.cli")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="an ONNX model or a bundled style name to describe")
    p.add_argument("--json", action="store_true", help="machine-readable output")


@command("info", help="show versions, providers, GPUs and caches, or a model's metadata",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    if args.model:
        from restyle.modelinfo import read_model_info
        from restyle.shapes import read_shapes

        info = read_model_info(args.model)
        data = info.as_dict()
        shapes = read_shapes(info.path)
        data["shapes"] = shapes.count if shapes is not None else 0  # painted after the network
        if args.json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        else:
            width = max(len(k) for k in data)
            for key, value in data.items():
                shown = json.dumps(value) if isinstance(value, (dict, list)) else value
                sys.stdout.write(f"{key:<{width}}  {shown}\n")
        return 0

    from restyle.environment import probe

    components = probe()
    if args.json:
        rows = [{"name": c.name, "version": c.version, "detail": c.detail,
                 "missing_reason": c.missing_reason} for c in components]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for c in components:
        if c.available:
            tail = f"  ({c.detail})" if c.detail else ""
            sys.stdout.write(f"{c.name:<13} {c.version}{tail}\n")
        else:
            sys.stdout.write(f"{c.name:<13} -  {c.missing_reason}\n")
    return 0
