"""Stream facts of real clips written through PyAV, and a clear error for every unusable file."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from restyle.errors import ConfigError, DependencyError, InvalidVideoError
from restyle.video import probe_video, stylize_video
from restyle.video.synthetic import write_clip


def _invert(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [255 - f for f in frames]


def test_probe_reads_the_facts_of_a_clip(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", width=64, height=48, frames=30, fps=30, audio="aac",
                      rotation=90, full_range=True)
    info = probe_video(clip)
    assert (info.width, info.height, info.frame_count) == (64, 48, 30)
    assert info.fps == Fraction(30)
    assert info.duration == pytest.approx(1.0, abs=1 / 30)
    assert info.rotation == 90 and info.display_size == (48, 64)
    assert info.color_range == 2
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("aac", 48000, 1)]


def test_probe_counts_frames_of_containers_without_a_count(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.webm", frames=17, codec="libvpx-vp9")
    assert probe_video(clip).frame_count == 17


def test_variable_frame_rate_clip_reports_its_average_rate(tmp_path: Path) -> None:
    info = probe_video(write_clip(tmp_path / "v.mp4", frames=30, vfr=True))
    assert info.frame_count == 30
    assert 1000 / 90 < float(info.fps) < 1000 / 20  # gaps of 20–90 ms


@pytest.mark.parametrize("kind", ["random bytes", "text"])
def test_a_file_that_is_not_a_video_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "movie.mp4"
    if kind == "text":
        bad.write_text("these are my holiday notes, not a video\n" * 20)
    else:
        bad.write_bytes(np.random.default_rng(0).bytes(20_000))
    with pytest.raises(InvalidVideoError, match=r"movie\.mp4 is not a readable video.*corrupt"):
        stylize_video(bad, tmp_path / "out.mp4", _invert, progress=False)
    assert not (tmp_path / "out.mp4").exists()


def test_a_truncated_video_is_a_clear_error(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mkv", frames=24)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[:300])
    with pytest.raises(InvalidVideoError, match=r"cut\.mkv"):
        stylize_video(cut, tmp_path / "out.mkv", _invert, progress=False)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_zero_frame_video_is_a_clear_error(tmp_path: Path, suffix: str) -> None:
    empty = write_clip(tmp_path / f"empty{suffix}", frames=0)
    with pytest.raises(InvalidVideoError, match=r"(no video frames|ends before its first video "
                                                r"frame).*at least one frame"):
        stylize_video(empty, tmp_path / f"out{suffix}", _invert, progress=False)


def test_missing_input_and_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideoError, match="does not exist"):
        probe_video(tmp_path / "nope.mp4")
    with pytest.raises(InvalidVideoError, match="is a folder"):
        probe_video(tmp_path)


def test_the_input_is_never_overwritten(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", frames=4)
    before = clip.read_bytes()
    with pytest.raises(ConfigError, match="input is never overwritten"):
        stylize_video(clip, tmp_path / "." / "c.mp4", _invert, progress=False)
    assert clip.read_bytes() == before


def test_missing_pyav_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # what an environment without PyAV looks like
    with pytest.raises(DependencyError, match=r"restyle\[video\]"):
        stylize_video(tmp_path / "c.mp4", tmp_path / "o.mp4", _invert)
