from __future__ import annotations

import io
from pathlib import Path

import pytest

from restyle.errors import OutputError
from restyle.paths import atomic_output, cache_dir
from restyle.progress import Progress, format_duration


def test_progress_shows_count_rate_and_eta() -> None:
    buf = io.StringIO()
    with Progress(total=4, desc="frames", unit="frame", stream=buf, log_interval=0) as bar:
        for _ in range(4):
            bar.update()
        bar.set_postfix("loss=0.5")
    text = buf.getvalue()
    assert "4/4" in text and "frame/s" in text and "loss=0.5" in text and "100%" in text


def test_format_duration() -> None:
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "?"


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_atomic_output_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="writable"), atomic_output(blocker / "sub" / "o.png"):
        pass


def test_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path


def test_progress_final_line_drawn_once() -> None:
    buf = io.StringIO()
    with Progress(total=2, stream=buf, log_interval=1e9) as bar:
        bar.update(2)
    assert buf.getvalue().count("2/2") == 1


def test_atomic_output_gets_normal_permissions(tmp_path: Path) -> None:
    import os

    mask = os.umask(0)
    os.umask(mask)
    with atomic_output(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    os.chmod(tmp_path / "a.txt", 0o640)
    with atomic_output(tmp_path / "a.txt") as tmp:
        tmp.write_text("y")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640  # an existing file keeps its own
