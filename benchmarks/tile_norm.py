"""Large photos tiled vs whole: grey-level difference, peak memory and time per ``tile_norm``.

Usage::

    python benchmarks/tile_norm.py [--styles psychedelic ink] [--backend ort_cpu] [--out DIR]

Each style × mode runs in its own process (so its peak RSS is its own): ``whole`` (one pass),
``tile`` (tiles normalised one by one, the old behaviour), ``estimate`` and ``exact``. The photo
is scikit-image's astronaut upscaled to 2400×1600 (Lanczos; its aspect kept by a centre crop);
tiles are 1024² with 128 px overlap (the Stylizer defaults), forced with ``max_pixels=1024²``.
Prints a Markdown table (time as the process's CPU seconds, which a busy shared machine distorts
far less than wall time) and writes JPEG crops (whole / tiled / ×4 difference) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

MODES = ("whole", "tile", "estimate", "exact")
SIZE = (2400, 1600)


def photo() -> np.ndarray:
    from skimage import data

    img = Image.fromarray(data.astronaut()).resize((SIZE[0], SIZE[0]), Image.Resampling.LANCZOS)
    top = (SIZE[0] - SIZE[1]) // 4  # keep the head
    return np.ascontiguousarray(np.asarray(img)[top:top + SIZE[1]])


def run_one(style: str, mode: str, backend: str, threads: int, out: Path) -> None:
    from restyle import Stylizer

    image = photo()
    tiled = {} if mode == "whole" else {"max_pixels": 1024 * 1024, "tile_norm": mode}
    with Stylizer(style, backend=backend, threads=threads, batch_size=2, **tiled) as st:
        st(image[:256, :256])  # warm-up (graphs compiled; the tiling graphs on first tiled use)
        start, cpu = time.perf_counter(), time.process_time()
        result = st(image)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    np.save(out / f"{style}-{mode}.npy", result)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB → MiB on Linux
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": rss}))


def crops(style: str, out: Path, results: dict[str, np.ndarray]) -> None:
    """whole | tile | exact (top) and their ×4 differences from whole (bottom), 600×600 crops."""
    y, x, s = 150, 900, 600
    whole = results["whole"][y:y + s, x:x + s].astype(np.int16)
    tops, bottoms = [], []
    for mode in ("whole", "tile", "exact"):
        part = results[mode][y:y + s, x:x + s]
        tops.append(part)
        diff = np.clip(np.abs(part.astype(np.int16) - whole) * 4, 0, 255).astype(np.uint8)
        bottoms.append(diff)
    grid = np.concatenate([np.concatenate(tops, 1), np.concatenate(bottoms, 1)], 0)
    Image.fromarray(grid).save(out / f"{style}-crops.jpg", quality=88)
    Image.fromarray(results["whole"][::4, ::4]).save(out / f"{style}-whole.jpg", quality=88)
    Image.fromarray(results["tile"][::4, ::4]).save(out / f"{style}-tile.jpg", quality=88)
    Image.fromarray(results["exact"][::4, ::4]).save(out / f"{style}-exact.jpg", quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", default=["psychedelic", "popart", "sunset", "ink"])
    parser.add_argument("--backend", default="ort_cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/tilenorm"))
    parser.add_argument("--one", nargs=2, metavar=("STYLE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.one:
        run_one(args.one[0], args.one[1], args.backend, args.threads, args.out)
        return
    print("| style | mode | mean diff | max diff | p99 | peak RSS MiB | CPU s | × tile | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for style in args.styles:
        stats = {}
        for mode in MODES:
            done = subprocess.run(
                [sys.executable, __file__, "--one", style, mode, "--backend", args.backend,
                 "--threads", str(args.threads), "--out", str(args.out)],
                check=True, capture_output=True, text=True)
            stats[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        results = {m: np.load(args.out / f"{style}-{m}.npy") for m in MODES}
        for mode in MODES:
            d = np.abs(results[mode].astype(np.int16) - results["whole"].astype(np.int16))
            ratio = stats[mode]["cpu_seconds"] / stats["tile"]["cpu_seconds"]
            print(f"| {style} | {mode} | {d.mean():.2f} | {d.max()} | "
                  f"{np.percentile(d, 99):.0f} | {stats[mode]['peak_rss_mib']:.0f} | "
                  f"{stats[mode]['cpu_seconds']:.1f} | {ratio:.2f} | "
                  f"{stats[mode]['seconds']:.1f} |", flush=True)
        crops(style, args.out, results)


if __name__ == "__main__":
    main()
