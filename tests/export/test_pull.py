"""``restyle pull``: the catalogue, served from a local HTTP server (replica files)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from peer_models import transformer_net, zoo_onnx

from restyle import Stylizer
from restyle.cli.main import main
from restyle.errors import ConfigError
from restyle.export.importers.catalogue import CATALOGUE, entry
from restyle.export.importers.pull import DownloadError, download, pull
from restyle.modelinfo import read_model_info


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/cut/"):  # announces the full file, sends half, hangs up
            data = (Path(self.directory) / self.path.removeprefix("/cut/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("mirror")
    onnx.save(zoo_onnx(transformer_net(seed=7), 9), folder / "udnie-9.onnx")

    def handler(*args: object, **kwargs: object) -> _Handler:
        return _Handler(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def replica_entry(served: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
                  tmp_path: Path) -> str:
    """The catalogue's udnie-9 entry pinned to the replica's checksum (the data, not the code)."""
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    sha = hashlib.sha256((served[1] / "udnie-9.onnx").read_bytes()).hexdigest()
    monkeypatch.setitem(CATALOGUE, "udnie-9", replace(CATALOGUE["udnie-9"], sha256=sha))
    return served[0]


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


def test_pull_verifies_imports_and_runs_by_name(replica_entry: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pull", "udnie-9", "--base-url", replica_entry]) == 0
    text = capsys.readouterr().out
    assert "sha256 verified" in text and "onnx/models fast_neural_style graph" in text
    info = read_model_info(tmp_path / "cache" / "models" / "udnie-9.onnx")
    assert info.license == "BSD-3-Clause" and info.style == "udnie-9"
    assert "onnx/models" in info.attribution
    with Stylizer("udnie-9", backend="ort_cpu") as st:  # found by name in the cache
        assert st(np.zeros((37, 53, 3), np.uint8)).shape == (37, 53, 3)
    assert main(["pull", "udnie-9", "--base-url", replica_entry]) == 0
    assert "already pulled" in capsys.readouterr().out
    assert main(["pull", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "udnie-9" in listing and "pulled" in listing and "BSD-3-Clause" in listing
    assert "not pinned" not in listing and "onnx/models" in listing and "mosaic-9" in listing


def test_pull_url_from_the_environment(replica_entry: str, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.setenv("RESTYLE_PULL_BASE_URL", replica_entry)
    assert pull("udnie-9").imported is not None


def test_wrong_checksum_keeps_nothing(served: tuple[str, Path], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(CATALOGUE, "udnie-9", replace(CATALOGUE["udnie-9"], sha256="0" * 64))
    with pytest.raises(DownloadError, match=r"udnie-9\.onnx has sha256 .*restyle import"):
        pull("udnie-9", base_url=served[0])
    assert _leftovers(tmp_path / "cache") == []


def test_partial_download_keeps_nothing(replica_entry: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"cannot download .*/cut/udnie-9\.onnx.*restyle "
                                            r"import"):
        pull("udnie-9", base_url=replica_entry + "/cut")
    assert _leftovers(tmp_path / "cache") == []


def test_offline_names_the_url_and_the_import_command(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RESTYLE_PULL_BASE_URL", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(DownloadError) as err:
        pull("udnie-9")
    assert "http://127.0.0.1:9/udnie-9.onnx" in str(err.value)
    assert "restyle import udnie-9.onnx" in str(err.value)
    assert _leftovers(tmp_path / "cache") == []


def test_unpinned_entries_and_unknown_names_are_refused(tmp_path: Path) -> None:
    assert all(e.sha256 is not None and len(e.sha256) == 64 for e in CATALOGUE.values())
    unpinned = replace(CATALOGUE["udnie-9"], sha256=None)
    with pytest.raises(DownloadError, match="no sha256 is pinned"):
        download(unpinned, tmp_path / "udnie-9.onnx")
    assert not (tmp_path / "udnie-9.onnx").exists()
    with pytest.raises(ConfigError, match=r"restyle pull mosaic-9.*restyle import mosaic-8\.onnx"):
        entry("mosaic-8")  # published, but no verifiable checksum: left out, and said why
    with pytest.raises(ConfigError, match="udnie-9"):
        entry("udnie-10")
    assert all(e.url.startswith("https://github.com/onnx/models/") for e in CATALOGUE.values())
