"""The folder job: image files and folders stylised into an output folder.

Rules, the same for :meth:`Stylizer.stylize_folder`, :meth:`Stylizer.stylize_files` and
``restyle stylize``:

* Every input maps to exactly one output; two inputs that would write the same output, or an
  output that is an input, are refused before any work (:func:`check_pairs`).
* Outputs that exist are skipped (an interrupted run resumes); each output is written atomically,
  and temporary files left by a killed run are removed when the next run starts.
* One bad item never stops the others: an unreadable file, a frame the backend fails on or an
  output that cannot be written is recorded in :attr:`FolderReport.failed` with the reason, and the
  job goes on.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from restyle import postprocess
from restyle.batching import BatchRunner, Item, Prefetcher, Window, windows
from restyle.errors import ConfigError, InvalidImageError, OutputError
from restyle.images import IMAGE_SUFFIXES, restore, save_image
from restyle.paths import atomic_output, remove_stale_temps
from restyle.progress import Progress

__all__ = ["FolderReport", "check_pairs", "file_pairs", "finish", "folder_pairs", "list_images",
           "run_pairs"]

log = logging.getLogger("restyle.stylizer")

Pairs = list[tuple[Path, Path]]


@dataclass(frozen=True)
class FolderReport:
    """What :meth:`Stylizer.stylize_folder` / :meth:`Stylizer.stylize_files` did.

    Attributes:
        written: Output files written by this call.
        skipped: Inputs whose output already existed (resume).
        failed: ``(input, reason)`` for inputs that could not be read, run or written.
    """

    written: tuple[Path, ...] = ()
    skipped: tuple[Path, ...] = ()
    failed: tuple[tuple[Path, str], ...] = field(default_factory=tuple)


def list_images(src: Path, dst: Path) -> list[Path]:
    """Image files under ``src`` (recursively, hidden files left out), in sorted order.

    When ``dst`` lies inside ``src`` its files are left out (they are outputs, not inputs); an
    output folder that contains ``src`` (its parent, say) leaves every input in.
    """
    src_r, dst_r = src.resolve(), dst.resolve()
    inside = src_r in dst_r.parents
    return [p for p in sorted(src.rglob("*"))
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(src).parts)
            and not (inside and dst_r in p.resolve().parents)]


def folder_pairs(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Pairs:
    """``(input, output)`` for every image under ``src``, keeping relative paths under ``dst``.

    Raises:
        ConfigError: ``src`` is not a folder, or ``dst`` is ``src``.
    """
    src_p, dst_p = Path(src), Path(dst)
    if not src_p.is_dir():
        raise ConfigError(f"{src_p} is not a folder: pass a folder of images (or use "
                          "stylize_files for single files)")
    if src_p.resolve() == dst_p.resolve():
        raise ConfigError(f"output folder {dst_p} is the input folder: choose another "
                          "output folder (inputs are never overwritten)")
    return [(p, dst_p / p.relative_to(src_p)) for p in list_images(src_p, dst_p)]


def file_pairs(files: Sequence[str | os.PathLike[str]], dst: str | os.PathLike[str]) -> Pairs:
    """``(input, output)`` for image files written into folder ``dst`` under their own names."""
    return [(Path(f), Path(dst) / Path(f).name) for f in files]


def check_pairs(pairs: Pairs) -> None:
    """Refuse a job whose outputs collide with each other or with an input.

    Raises:
        ConfigError: Naming the inputs that clash and how to keep them apart.
    """
    by_output: dict[Path, Path] = {}
    inputs = {s.resolve() for s, _ in pairs}
    for s, d in pairs:
        key = d.resolve()
        if key in inputs:
            raise ConfigError(f"the output for {s} would be {d}, which is an input: choose an "
                              "output folder apart from the inputs (inputs are never "
                              "overwritten)")
        other = by_output.setdefault(key, s)
        if other != s:
            raise ConfigError(f"{other} and {s} would both be written to {d}: give inputs "
                              "with distinct names, or stylise them in separate runs with "
                              "different -o folders")


def finish(item: Item, strength: float, preserve_color: bool) -> Any:
    """The caller's image for a finished item: blend, colour, then back to the input's kind."""
    if item.prepared is None or item.output is None:  # pragma: no cover - errors handled
        raise InvalidImageError(f"image {item.tag} has no output: {item.error}")
    rgb = postprocess.apply(item.output, item.prepared.rgb, strength=strength,
                            keep_color=preserve_color)
    return restore(item.prepared, rgb)


def _write(item: Item, dst: Path, strength: float, preserve_color: bool) -> None:
    image = finish(item, strength, preserve_color)
    with atomic_output(dst) as tmp:
        save_image(image, tmp)


def run_pairs(runner: BatchRunner, pairs: Pairs, *, prefetch: int, strength: float,
              preserve_color: bool, overwrite: bool, progress: bool) -> FolderReport:
    """Stylise every ``(input, output)`` pair (see the module's rules).

    Raises:
        ConfigError: Outputs clash (:func:`check_pairs`) or ``strength`` is out of range.
    """
    strength = postprocess.check_strength(strength)
    check_pairs(pairs)
    for folder in {d.parent for _, d in pairs}:
        remove_stale_temps(folder)
    todo = [(s, d) for s, d in pairs if overwrite or not d.exists()]
    skipped = tuple(s for s, d in pairs if not overwrite and d.exists())
    if skipped:
        log.info("%d of %d outputs exist already: skipped (pass overwrite=True to redo)",
                 len(skipped), len(pairs))
    written: list[Path] = []
    failed: list[tuple[Path, str]] = []

    def build(chunk: list[tuple[Path, Path]]) -> Window:
        return runner.window([((s, d), s) for s, d in chunk], raise_errors=False)

    # Outputs are finished and encoded on a writer thread (Pillow's encoders release the
    # GIL), so the next batch is submitted while this one is written; at most two batches
    # of outputs wait. Leaving the block waits for every write, also on Ctrl-C.
    pending: deque[tuple[Path, Path, Future[None]]] = deque()

    def settle(keep: int) -> None:
        while len(pending) > keep:
            src, done, future = pending.popleft()
            try:
                future.result()
            except OutputError as exc:
                log.warning("could not write %s: %s", done, exc)
                failed.append((src, str(exc)))
            else:
                written.append(done)
            bar.update(1)

    with Progress(total=len(pairs), initial=len(skipped), desc="stylize", unit="img",
                  enabled=progress) as bar, \
            ThreadPoolExecutor(1, thread_name_prefix="restyle-write") as writer, \
            Prefetcher(windows(todo, runner.batch_size), build, depth=prefetch,
                       name="restyle-folder") as pre:
        for item in runner.run(pre):
            src, dst = cast(tuple[Path, Path], item.tag)  # the tags built just above
            if item.error is not None:
                log.warning("skipped %s: %s", src, item.error)
                failed.append((src, str(item.error)))
                bar.update(1)
            else:
                pending.append((src, dst, writer.submit(_write, item, dst, strength,
                                                        preserve_color)))
            settle(2 * runner.batch_size)
        settle(0)
    if failed:
        log.warning("%d input(s) could not be stylised; see the messages above", len(failed))
    return FolderReport(tuple(written), skipped, tuple(failed))
