"""``restyle ray IN_DIR OUT_DIR --model M``: a folder of images and videos on a Ray cluster."""

from __future__ import annotations

import argparse
import logging
import sys

from restyle.cli.options import add_stylize_options
from restyle.cli.registry import command

log = logging.getLogger("restyle.cli")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN_DIR", help="folder of images and videos (recursive; on "
                                                   "a filesystem every node sees)")
    p.add_argument("output", metavar="OUT_DIR",
                   help="output folder (same relative paths; also seen by every node)")
    p.add_argument("--model", required=True,
                   help="ONNX model, TensorRT engine or bundled style (shipped to the workers)")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join, e.g. auto or ray://head:10001 (default: "
                        "$RAY_ADDRESS, else a local Ray instance on this machine)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="actors, each with its own model (default 1; e.g. the number of GPUs)")
    p.add_argument("--batch-size", type=int, default=8, help="images per actor call (default 8)")
    p.add_argument("--num-gpus", type=float, default=0.0,
                   help="GPUs per actor (default 0; 1 on GPU nodes)")
    p.add_argument("--num-cpus", type=float, default=1.0, help="CPUs per actor (default 1)")
    add_stylize_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


@command("ray", help="stylise a folder of images and videos on a Ray cluster (resumable)",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from restyle._optional import require
    from restyle.integrations.ray import ModelFiles, check_resources
    from restyle.integrations.ray_folder import plan_folder, stylize_folder_on_ray

    ray = require("ray", purpose="running on a Ray cluster")
    # Bad folders, models and numbers fail here, before a Ray cluster is started or joined.
    check_resources(batch_size=args.batch_size, concurrency=args.concurrency,
                    num_gpus=args.num_gpus, num_cpus=args.num_cpus)
    ModelFiles.read(args.model)
    images, videos, _ = plan_folder(Path(args.input), Path(args.output), overwrite=args.overwrite)
    started = bool(images or videos) and not ray.is_initialized()
    if started:
        ray.init(address=args.address, include_dashboard=False, log_to_driver=not args.quiet)
    try:
        if ray.is_initialized():
            resources = ray.cluster_resources()
            log.info("ray: %s CPUs, %s GPUs in the cluster", resources.get("CPU", 0),
                     resources.get("GPU", 0))
        report = stylize_folder_on_ray(
            args.input, args.output, args.model, batch_size=args.batch_size,
            num_gpus=args.num_gpus, num_cpus=args.num_cpus, concurrency=args.concurrency,
            backend=args.backend, precision=args.precision, strength=args.strength,
            preserve_color=args.preserve_color,
            overwrite=args.overwrite, progress=not (args.no_progress or args.quiet))
    finally:
        if started:
            ray.shutdown()
    for src, reason in report.failed:
        log.error("failed: %s: %s", src, reason)
    sys.stdout.write(f"{len(report.written)} written, {len(report.skipped)} skipped (already "
                     f"done), {len(report.failed)} failed -> {args.output}\n")
    return 1 if report.failed else 0
