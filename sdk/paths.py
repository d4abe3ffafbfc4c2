"""Where restyle keeps files of its own (the user cache: engines, timing caches), and the file
helpers every layer shares: atomic outputs and file hashes."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from restyle.errors import OutputError, RestyleError

log = logging.getLogger("restyle")

#: Temporary files of :func:`atomic_output` are named ``.NAME.restyle-PID-RANDOM.SUFFIX``, so a
#: later run can tell one left by a killed process (PID gone) from one still being written.
_TEMP = re.compile(r"^\..+\.restyle-(\d+)-[^.]*(\.[^.]*)?$")

__all__ = ["atomic_output", "cache_dir", "engine_cache_dir", "file_sha256", "remove_stale_temps"]


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


#: Permissions of a new output file: what open() would give it (mkstemp's temporaries are 0600).
_NEW_FILE_MODE = _umask_mode()


def cache_dir() -> Path:
    """The user cache directory: ``$RESTYLE_CACHE_DIR``, else ``$XDG_CACHE_HOME/restyle``, else
    ``~/.cache/restyle``. It is not created here."""
    env = os.environ.get("RESTYLE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "restyle"


def engine_cache_dir() -> Path:
    """Where TensorRT engines and timing caches built on demand are kept."""
    return cache_dir() / "engines"


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was, so a reader
    never sees a half-written file.

    Raises:
        OutputError: The folder cannot be created or written.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.restyle-{os.getpid()}-",
            suffix=suffix or target.suffix or ".tmp", dir=target.parent,
        )
    except OSError as exc:
        raise _output_error(target, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():
            mode = target.stat().st_mode & 0o777 if target.is_file() else _NEW_FILE_MODE
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:  # OutputError too: said again about the output, not the temporary
        tmp.unlink(missing_ok=True)
        if isinstance(exc, RestyleError) and not isinstance(exc, OutputError):
            raise  # already names its own problem (a failed download, say)
        raise _output_error(target, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _output_error(target: Path, exc: OSError) -> OutputError:
    """An :class:`OutputError` about ``target`` for an OS error while writing it (or its
    temporary file), with the fix for the common causes."""
    root = exc
    while not root.errno and isinstance(root.__cause__, OSError):
        root = root.__cause__
    if root.errno == errno.ENOSPC:
        return OutputError(f"cannot write {target}: the disk is full; free some space or choose "
                           "an output folder on another disk")
    if root.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"cannot write {target}: permission denied; choose a writable output "
                           "folder")
    reason = root.strerror or str(root)
    return OutputError(f"cannot write {target}: {reason}; choose a writable output path")


def remove_stale_temps(folder: str | os.PathLike[str]) -> int:
    """Remove the temporary files that killed runs left in ``folder``; returns how many.

    A temporary file whose process is still running (another job writing the same folder) is
    left alone.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or not entry.is_file() or _alive(int(match.group(1))):
            continue
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError as exc:
            log.warning("could not remove the stale temporary file %s: %s", entry.path, exc)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run in %s", removed, folder)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (the one file hash of restyle).

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as fh:
        ...     file_sha256(fh.name)[:12]
        'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
