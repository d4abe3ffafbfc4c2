"""A folder of images and videos stylised on a Ray cluster (``restyle ray IN_DIR OUT_DIR``).

The driver lists the work (outputs that exist are skipped, so a rerun resumes) and streams back
one small status row per file; the heavy work runs in Ray actors, each with one Stylizer loaded
once: :class:`StylizeFiles` reads a batch of images (in threads), stylises it and writes each
output atomically, so decoding and encoding scale with the workers instead of queueing on the
driver; :class:`StylizeVideos` runs one video per call through :meth:`Stylizer.stylize_video
<restyle.Stylizer.stylize_video>` (decode, stylise and encode overlapped, resumable), so
``concurrency`` videos run at once. (Splitting one video's frames across machines would put every
frame through the network twice and serialise the encode; a whole video per actor does not.)

Input and output folders must be visible at the same paths on every node (a shared filesystem, as
for any Ray job reading files); on a single machine they always are.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from restyle import postprocess
from restyle._optional import require
from restyle.errors import ConfigError, InvalidImageError, RestyleError
from restyle.images import IMAGE_SUFFIXES, Prepared, prepare, restore, save_image
from restyle.integrations.ray import ModelFiles, StylizeOptions, check_resources
from restyle.paths import atomic_output
from restyle.progress import Progress
from restyle.stylizer import FolderReport, Stylizer

__all__ = ["VIDEO_SUFFIXES", "StylizeFiles", "StylizeVideos", "stylize_folder_on_ray"]

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
    inside = src.resolve() in dst_r.parents  # else dst holds no inputs (it may be src's parent)
    images: Pairs = []
    videos: Pairs = []
    skipped: list[Path] = []
    for p in sorted(src.rglob("*")):
        suffix = p.suffix.lower()
        if (not p.is_file() or p.name.startswith(".")
                or (inside and dst_r in p.resolve().parents)
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


def _read(src: str) -> Prepared | str:
    """An image file prepared for the model, or why it cannot be read."""
    try:
        return prepare(src)
    except InvalidImageError as exc:
        log.warning("skipped %s: %s", src, exc)
        return str(exc)


class _FileActor:
    """One Stylizer per Ray actor, plus threads for reading and writing files."""

    def __init__(self, model: ModelFiles, options: StylizeOptions) -> None:
        self._options = options
        self._stylizer = Stylizer(model.materialize(), backend=options.backend,
                                  batch_size=options.batch_size, threads=options.threads,
                                  precision=options.precision)
        self._pool = ThreadPoolExecutor(max_workers=options.threads or 1,
                                        thread_name_prefix="restyle-ray-io")

    def close(self) -> None:
        """Stop the I/O threads and release the Stylizer."""
        self._pool.shutdown(wait=True)
        self._stylizer.close()

    def __del__(self) -> None:  # Ray Data ends actors without another hook
        if hasattr(self, "_pool"):  # __init__ may have failed
            self.close()


class StylizeFiles(_FileActor):
    """The ``map_batches`` callable class for image files: read, stylise, write in place.

    Each row is ``src``, ``dst`` (paths every node sees); the result adds ``error`` (``""`` when
    the output was written). Outputs are the same as :meth:`Stylizer.stylize_folder`'s: alpha,
    CMYK and EXIF orientation are handled alike, and each file is written atomically.
    """

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Stylise the batch's image files; report an error message per row."""
        opts = self._options
        dsts = [str(d) for d in batch["dst"]]
        prepared = list(self._pool.map(_read, [str(s) for s in batch["src"]]))
        errors = [p if isinstance(p, str) else "" for p in prepared]
        ok = [(i, p) for i, p in enumerate(prepared) if isinstance(p, Prepared)]
        outs = self._stylizer.stylize_batch([p.rgb for _, p in ok], strength=opts.strength,
                                            preserve_color=opts.preserve_color) if ok else []

        def write(job: tuple[tuple[int, Prepared], np.ndarray]) -> None:
            (i, p), rgb = job
            image = restore(p, rgb)
            try:
                with atomic_output(dsts[i]) as tmp:
                    save_image(image if isinstance(image, Image.Image) else
                               Image.fromarray(image), tmp)
            except RestyleError as exc:
                errors[i] = str(exc)

        list(self._pool.map(write, zip(ok, outs, strict=True)))
        return {"src": batch["src"], "dst": batch["dst"], "error": np.array(errors, dtype=object)}


class StylizeVideos(_FileActor):
    """The ``map_batches`` callable class for videos: one video per row, encoded in place.

    Each row is ``src``, ``dst``; the result adds ``frames`` and ``error`` (``""`` on success).
    An interrupted video resumes from its finished segments on the next run.
    """

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
    precision: str = "auto",
    strength: float = 1.0,
    preserve_color: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> FolderReport:
    """Stylise every image and video under ``src`` into ``dst`` on the connected Ray cluster.

    Relative paths are kept; outputs that exist are skipped unless ``overwrite`` (a rerun resumes);
    every output is written atomically by the actor that made it. Connect first with
    ``ray.init(address=...)``, else Ray starts a local instance.

    Args:
        src: Input folder (walked recursively).
        dst: Output folder.
        model: ONNX file, engine or bundled style name on the driver (shipped to the workers).
        batch_size: Images per actor call; frames per backend call for videos.
        num_gpus: GPUs per actor.
        num_cpus: CPUs per actor (also its threads for reading and writing files).
        concurrency: Actors (each with its own Stylizer).
        backend: ``auto`` or a backend name.
        precision: ``auto``, ``fp32``, ``bf16``, ``fp16`` or ``int8`` (see ``Stylizer``).
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
    options = StylizeOptions(backend=backend, precision=precision, batch_size=batch_size,
                             threads=max(1, round(num_cpus)), strength=strength,
                             preserve_color=preserve_color)
    files = ModelFiles.read(model)
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for kind, pairs, actor, rows in (("images", images, StylizeFiles, batch_size),
                                     ("videos", videos, StylizeVideos, 1)):
        if not pairs:
            continue
        ds = ray_data.from_items([{"src": str(s), "dst": str(d)} for s, d in pairs]).map_batches(
            actor, fn_constructor_kwargs={"model": files, "options": options}, batch_size=rows,
            batch_format="numpy", num_cpus=num_cpus, num_gpus=num_gpus,
            compute=ray_data.ActorPoolStrategy(size=min(concurrency, len(pairs))))
        with Progress(total=len(pairs), desc=f"ray {kind}", unit=kind[:-1],
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
