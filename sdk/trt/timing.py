"""TensorRT's persistent timing cache: read and merged under a file lock, never fatal.

Several builds (processes or threads) may share one cache file. Like Polygraphy's
``EngineBytesFromNetwork``, a build loads the file under a lock, and after the build merges what
is on disk *now* into its own cache (``ITimingCache.combine``) before writing it back atomically,
so concurrent builds add to each other instead of overwriting. A damaged file is set aside and
the build starts from an empty cache; a failure to save is logged and never loses the engine.

The locking and merging are plain Python (:func:`merge_into_file`), tested without TensorRT.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from restyle.errors import ExportError
from restyle.paths import atomic_output

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["file_lock", "load_timing_cache", "merge_into_file", "save_timing_cache"]

log = logging.getLogger("restyle.trt")

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path + ".lock"`` (across threads and processes)."""
    key = str(path.resolve())
    with _GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with thread_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a+b") as handle:
            try:
                import fcntl
            except ImportError:  # Windows: threads are still serialised; processes are not
                yield
                return
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def merge_into_file(path: Path, merge: Callable[[bytes | None], bytes | None]) -> bool:
    """Under the file lock, read ``path`` (None when absent), call ``merge`` with it and write
    what it returns atomically (nothing when it returns None). Returns whether it wrote."""
    with file_lock(path):
        try:
            current: bytes | None = path.read_bytes()
        except FileNotFoundError:
            current = None
        data = merge(current)
        if data is None:
            return False
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
        return True


def _create(config: trt.IBuilderConfig, blob: bytes) -> trt.ITimingCache | None:
    """``create_timing_cache``, with None for a blob TensorRT rejects (it may raise or return
    None)."""
    try:
        cache = config.create_timing_cache(blob)
    except Exception as exc:  # TensorRT raises its own types for a damaged blob
        log.debug("create_timing_cache rejected %d bytes: %s", len(blob), exc)
        return None
    return cache if cache else None


def load_timing_cache(config: trt.IBuilderConfig, path: Path) -> None:
    """Give ``config`` the timing cache stored at ``path`` (or an empty one).

    Raises:
        ExportError: TensorRT cannot even create an empty timing cache.
    """
    with file_lock(path):
        blob = path.read_bytes() if path.is_file() else b""
        cache = _create(config, blob) if blob else None
        if blob and cache is None:
            aside = path.with_name(path.name + ".damaged")
            log.warning("timing cache %s is unreadable; moved to %s, starting a new one", path,
                        aside.name)
            try:
                os.replace(path, aside)
            except OSError as exc:
                log.warning("cannot move the damaged timing cache aside: %s", exc)
    if cache is None:
        cache = _create(config, b"")
        if cache is None:
            raise ExportError("TensorRT cannot create an empty timing cache")
    elif blob:
        log.info("using timing cache %s (%d bytes)", path, len(blob))
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        log.warning("timing cache %s was made for another device or TensorRT; not used", path)


def save_timing_cache(config: trt.IBuilderConfig, path: Path) -> None:
    """Merge the build's timings with what is on disk now and write them back. Never raises:
    the engine matters more than its timings."""
    try:
        cache = config.get_timing_cache()
        if not cache:
            log.warning("TensorRT returned no timing cache after the build; %s not updated", path)
            return

        def merge(current: bytes | None) -> bytes:
            if current:
                previous = _create(config, current)
                if previous is None or not cache.combine(previous, ignore_mismatch=False):
                    log.warning("could not merge the timing cache on disk into this build's; "
                                "this build's timings replace it")
            return bytes(memoryview(cache.serialize()))

        merge_into_file(path, merge)
    except Exception as exc:  # anything from TensorRT or the file system: keep the engine
        log.warning("could not save the timing cache %s: %s", path, exc)
