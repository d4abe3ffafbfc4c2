"""``pull``: fetch a catalogue model, verify its pinned sha256, import it and cache it by name.

The download goes to a temporary file beside its destination and is renamed only after its
checksum matched, so a partial or wrong file never stays. ``RESTYLE_PULL_BASE_URL`` (or the
``base_url`` argument) replaces the folder of the published URL, for mirrors and tests.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from restyle.errors import ModelFormatError, RestyleError
from restyle.export.importers.api import ImportResult, import_model
from restyle.export.importers.catalogue import CatalogueEntry, entry
from restyle.imported import pulled_models_dir
from restyle.paths import atomic_output, cache_dir, file_sha256

__all__ = ["DownloadError", "PullResult", "download", "pull"]

log = logging.getLogger("restyle.export")

BASE_URL_ENV = "RESTYLE_PULL_BASE_URL"
_TIMEOUT_S = 60.0


class DownloadError(RestyleError, OSError):
    """A catalogue file could not be fetched or did not match its pinned checksum."""


@dataclass(frozen=True)
class PullResult:
    """What :func:`pull` fetched and wrote."""

    entry: CatalogueEntry
    path: Path
    """The imported restyle model (run it by name: ``Stylizer(entry.name)``)."""
    download: Path
    imported: ImportResult | None
    """None when the model was already pulled."""


def _url(item: CatalogueEntry, base_url: str | None) -> str:
    base = base_url or os.environ.get(BASE_URL_ENV)
    return f"{base.rstrip('/')}/{item.file}" if base else item.url


def _by_hand(item: CatalogueEntry, url: str) -> str:
    return (f"download {url} by hand (sha256 {item.sha256 or 'not pinned'}) and run `restyle "
            f"import {item.file} --onnx {item.name}-restyle.onnx`")


def download(item: CatalogueEntry, target: Path, *, base_url: str | None = None) -> Path:
    """Fetch ``item`` to ``target`` atomically, verifying its pinned sha256.

    Raises:
        DownloadError: Offline, an HTTP error, no pinned checksum, or a checksum mismatch; the
            message names the URL and ``restyle import`` for a file fetched by hand.
    """
    url = _url(item, base_url)
    if item.sha256 is None:
        raise DownloadError(f"no sha256 is pinned for {item.name} in this restyle, so it is not "
                            f"downloaded unchecked: {_by_hand(item, url)}")
    digest = hashlib.sha256()
    with atomic_output(target) as tmp:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "restyle"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, \
                    tmp.open("wb") as fh:
                expected = response.headers.get("Content-Length")
                received = 0
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    fh.write(chunk)
                    received += len(chunk)
                if expected is not None and expected.isdigit() and received != int(expected):
                    raise http.client.IncompleteRead(b"", int(expected) - received)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError,
                ConnectionError) as exc:
            reason = getattr(exc, "reason", None) or repr(exc)
            raise DownloadError(f"cannot download {url} ({reason}); offline? "
                                f"{_by_hand(item, url)}") from exc
        if digest.hexdigest() != item.sha256:
            raise DownloadError(
                f"{url} has sha256 {digest.hexdigest()}, not the pinned {item.sha256}: the "
                f"file was discarded. Check the source, then {_by_hand(item, url)}")
    log.info("downloaded %s (sha256 verified) to %s", url, target)
    return target


def pull(name: str, *, base_url: str | None = None, force: bool = False) -> PullResult:
    """Fetch the catalogue model ``name``, verify it, import it and keep it under its name.

    Args:
        name: A catalogue name (``udnie-9`` …; see
            :data:`~restyle.export.importers.catalogue.CATALOGUE`).
        base_url: Fetch from this folder instead of the published one.
        force: Fetch and import again even when the model was pulled before.

    Raises:
        ConfigError: ``name`` is not in the catalogue.
        DownloadError: See :func:`download`.
        ExportError: The import does not match the downloaded file.

    Example:
        >>> from restyle.export.importers.pull import pull
        >>> pull("udnie-9").path.name  # doctest: +SKIP
        'udnie-9.onnx'
    """
    item = entry(name)
    target = pulled_models_dir() / f"{item.name}.onnx"
    downloaded = cache_dir() / "downloads" / item.file
    if target.is_file() and not force:
        log.info("%s is already pulled: %s", item.name, target)
        return PullResult(item, target, downloaded, None)
    if force or not downloaded.is_file() or file_sha256(downloaded) != item.sha256:
        download(item, downloaded, base_url=base_url)
    try:
        result = import_model(downloaded, target, style=item.name, license=item.license,
                              attribution=f"{item.source}; {item.url}",
                              description=item.description)
    except ModelFormatError:
        downloaded.unlink(missing_ok=True)
        raise
    return PullResult(item, target, downloaded, result)

