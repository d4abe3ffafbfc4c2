"""A folder of images and videos stylised on a Ray cluster (``restyle ray IN_DIR OUT_DIR``).

Images: the driver lists the work (outputs that exist are skipped, so a rerun resumes); Ray tasks
read the images, :func:`~restyle.integrations.ray.stylize_dataset` actors stylise them, and the
driver writes each result atomically as it streams back. Videos: one video is one unit of work,
run by an actor with :meth:`Stylizer.stylize_video <restyle.Stylizer.stylize_video>` (decode,
stylise and encode overlapped, resumable); ``concurrency`` videos run at once.

Inputs must be visible at the same path on every node (a shared filesystem), and so must the output
folder for videos, which the actors encode in place; image outputs are written by the driver.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from restyle import postprocess
from restyle._optional import require
from restyle.errors import ConfigError, InvalidImageError, RestyleError
from restyle.images import IMAGE_SUFFIXES, Prepared, prepare, restore, save_image
from restyle.integrations.ray import (
    ModelFiles,
    StylizeOptions,
    check_resources,
    stylize_dataset,
)
from restyle.paths import atomic_output
from restyle.progress import Progress
from restyle.stylizer import FolderReport, Stylizer

__all__ = ["VIDEO_SUFFIXES", "StylizeVideos", "stylize_folder_on_ray"]

log = logging.getLogger("restyle.integrations.ray")

#: File suffixes treated as videos when a folder is walked.
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"})
_VIDEO_OUTPUTS = frozenset({".mp4", ".mkv", ".webm", ".mov"})  # containers restyle.video writes

Pairs = list[tuple[Path, Path]]


def plan_folder(src: Path, dst: Path, *, overwrite: bool) -> tuple[Pairs, Pairs, list[Path]]:
    """``(image pairs, video pairs, skipped inputs)`` for the files under ``src``.

    Raises:
        ConfigError: ``src`` is not a folder or ``dst`` is ``src``.
    """
    if not src.is_dir():
        raise ConfigError(f"{src} is not a folder: pass a folder of images and videos")
    if src.resolve() == dst.resolve():
        raise ConfigError(f"output folder {dst} is the input folder: choose another output "
                          "folder (inputs are never overwritten)")
    dst_r = dst.resolve()
    images: Pairs = []
    videos: Pairs = []
    skipped: list[Path] = []
    for p in sorted(src.rglob("*")):
        suffix = p.suffix.lower()
        if (not p.is_file() or p.name.startswith(".") or dst_r in p.resolve().parents
                or suffix not in IMAGE_SUFFIXES | VIDEO_SUFFIXES):
            continue
        out = dst / p.relative_to(src)
        if suffix in VIDEO_SUFFIXES and suffix not in _VIDEO_OUTPUTS:
            out = out.with_suffix(".mp4")
        if out.exists() and not overwrite:
            skipped.append(p)
        else:
            (images if suffix in IMAGE_SUFFIXES else videos).append((p.resolve(), out.resolve()))
    return images, videos, skipped


def _read(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Ray task: read one image file into ``image`` (RGB), ``alpha`` (0×0 if none) and ``mode``."""
    try:
        p = prepare(row["src"])
    except InvalidImageError as exc:
        log.warning("skipped %s: %s", row["src"], exc)
        return []
    alpha = p.alpha if p.alpha is not None else np.zeros((0, 0), np.uint8)
    return [{"image": p.rgb, "alpha": alpha, "mode": p.mode, "dst": row["dst"]}]


def _why_missing(src: Path) -> str:
    try:
        prepare(src)
    except InvalidImageError as exc:
        return str(exc)
    return ("read here but not on a worker: the input folder must be visible at the same path on "
            "every node (a shared filesystem)")


class StylizeVideos:
    """The ``map_batches`` callable class for videos: one Stylizer per actor, one video per row.

    Args:
        model: The model's bytes.
        options: How to build and apply the Stylizer.
    """

    def __init__(self, model: ModelFiles, options: StylizeOptions) -> None:
        self._options = options
        self._stylizer = Stylizer(model.materialize(), backend=options.backend,
                                  batch_size=options.batch_size, threads=options.threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Stylise each ``src`` video into ``dst``; report ``frames`` and ``error`` per row."""
        frames: list[int] = []
        errors: list[str] = []
        for src, dst in zip(batch["src"], batch["dst"], strict=True):
            try:
                report = self._stylizer.stylize_video(
                    str(src), str(dst), strength=self._options.strength,
                    preserve_color=self._options.preserve_color, resume=True, progress=False)
            except RestyleError as exc:
                log.warning("video %s failed: %s", src, exc)
                frames.append(0)
                errors.append(str(exc))
            else:
                frames.append(report.frames)
                errors.append("")
        return {"src": batch["src"], "dst": batch["dst"], "frames": np.array(frames, np.int64),
                "error": np.array(errors, dtype=object)}

    def __del__(self) -> None:  # Ray Data ends actors without another hook
        self._stylizer.close()


def stylize_folder_on_ray(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    model: str | os.PathLike[str],
    *,
    batch_size: int = 8,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    concurrency: int = 1,
    backend: str = "auto",
    strength: float = 1.0,
    preserve_color: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> FolderReport:
    """Stylise every image and video under ``src`` into ``dst`` on the connected Ray cluster.

    Relative paths are kept; outputs that exist are skipped unless ``overwrite`` (a rerun resumes);
    every output is written atomically. Ray must be initialised (``ray.init(address=...)``), else
    Ray starts a local instance.

    Args:
        src: Input folder (walked recursively).
        dst: Output folder.
        model: ONNX file, engine or bundled style name on the driver (shipped to the workers).
        batch_size: Images per actor call; frames per backend call for videos.
        num_gpus: GPUs per actor.
        num_cpus: CPUs per actor.
        concurrency: Actors (each with its own Stylizer).
        backend: ``auto`` or a backend name.
        strength: 0 keeps the input, 1 is the full style.
        preserve_color: Keep the input's colours, restyle only luminance.
        overwrite: Redo outputs that exist.
        progress: Show progress bars on standard error.

    Returns:
        Outputs written, inputs skipped, and inputs that failed with the reason.

    Raises:
        ConfigError: Bad folder or argument.
        DependencyError: Ray (or PyAV, for videos) is missing.

    Example:
        >>> from restyle.integrations.ray_folder import stylize_folder_on_ray
        >>> report = stylize_folder_on_ray("photos/", "styled/", "mosaic.onnx")  # doctest: +SKIP
        >>> len(report.failed)  # doctest: +SKIP
        0
    """
    ray_data = require("ray.data", purpose="Ray Data batch inference")
    check_resources(batch_size=batch_size, concurrency=concurrency, num_gpus=num_gpus,
                    num_cpus=num_cpus)
    strength = postprocess.check_strength(strength)
    images, videos, skipped = plan_folder(Path(src), Path(dst), overwrite=overwrite)
    if skipped:
        log.info("%d output(s) exist already: skipped (pass overwrite to redo)", len(skipped))
    if videos:
        require("av", purpose="stylising videos")
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []
    if images:
        rows = [{"src": str(s), "dst": str(d)} for s, d in images]
        ds = stylize_dataset(
            ray_data.from_items(rows).flat_map(_read, num_cpus=0), model,
            batch_size=batch_size, num_gpus=num_gpus, num_cpus=num_cpus, concurrency=concurrency,
            backend=backend, strength=strength, preserve_color=preserve_color)
        with Progress(total=len(images), desc="ray images", unit="img", enabled=progress) as bar:
            for row in ds.iter_rows():
                kept = Prepared(rgb=row["stylized"], alpha=row["alpha"] if row["alpha"].size
                                else None, kind="path", mode=str(row["mode"]))
                image = restore(kept, np.ascontiguousarray(row["stylized"]))
                with atomic_output(row["dst"]) as tmp:
                    save_image(image if isinstance(image, Image.Image) else
                               Image.fromarray(image), tmp)
                written.append(Path(row["dst"]))
                bar.update(1)
        done = set(written)
        failed += [(s, _why_missing(s)) for s, d in images if d not in done]
    if videos:
        options = StylizeOptions(backend=backend, batch_size=batch_size,
                                 threads=max(1, round(num_cpus)), strength=strength,
                                 preserve_color=preserve_color)
        ds = ray_data.from_items([{"src": str(s), "dst": str(d)} for s, d in videos]).map_batches(
            StylizeVideos, fn_constructor_kwargs={"model": ModelFiles.read(model),
                                                  "options": options},
            batch_size=1, batch_format="numpy", num_cpus=num_cpus, num_gpus=num_gpus,
            compute=ray_data.ActorPoolStrategy(size=min(concurrency, len(videos))))
        with Progress(total=len(videos), desc="ray videos", unit="video",
                      enabled=progress) as bar:
            for row in ds.iter_rows():
                if row["error"]:
                    failed.append((Path(row["src"]), str(row["error"])))
                else:
                    written.append(Path(row["dst"]))
                bar.update(1)
    if failed:
        log.warning("%d input(s) failed; see the reasons above", len(failed))
    return FolderReport(tuple(sorted(written)), tuple(skipped), tuple(sorted(failed)))
