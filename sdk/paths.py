"""Where restyle keeps files of its own (the user cache: engines, timing caches), and the file
helpers every layer shares: atomic outputs and file hashes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from restyle.errors import OutputError

__all__ = ["atomic_output", "cache_dir", "engine_cache_dir", "file_sha256"]


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
            prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}; choose a writable output path"
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():
            mode = target.stat().st_mode & 0o777 if target.is_file() else _NEW_FILE_MODE
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
