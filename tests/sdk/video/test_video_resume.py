"""Ctrl-C keeps the finished part; ``resume`` continues it to the same result as one clean run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from restyle.errors import ConfigError
from restyle.video import TemporalBlend, probe_video, stylize_video
from restyle.video.synthetic import write_clip


def invert(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [255 - f for f in frames]


def interrupt_at(k: int, inner: Callable[[list[np.ndarray]], list[np.ndarray]]
                 ) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """``inner``, but Ctrl-C arrives when frame ``k`` (0-based) would be stylised."""
    seen = 0

    def fn(frames: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal seen
        if seen + len(frames) > k:
            raise KeyboardInterrupt
        seen += len(frames)
        return inner(frames)

    return fn


def packets(path: Path) -> list[tuple[float, bool]]:
    """(presentation time, keyframe) of every video frame, in presentation order."""
    with av.open(str(path)) as c:
        return sorted((float(p.pts * p.time_base), p.is_keyframe)
                      for p in c.demux(video=0) if p.size)


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.parametrize("vfr", [False, True], ids=["cfr", "vfr"])
def test_interrupted_then_resumed_equals_an_uninterrupted_run(tmp_path: Path, vfr: bool) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=40, vfr=vfr, audio="aac")
    clean = stylize_video(src, tmp_path / "clean.mp4", invert, batch_size=4, segment_frames=8,
                          progress=False)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, dst, interrupt_at(21, invert), batch_size=4, segment_frames=8,
                      progress=False)
    assert not dst.exists()
    parts = tmp_path / "out.mp4.parts"
    manifest = json.loads((parts / "manifest.json").read_text())
    # Segments of 8, and the frames already stylised (20) were encoded into a last short one.
    assert [s["frames"] for s in manifest["segments"]] == [8, 8, 4]
    assert probe_video(parts / manifest["segments"][0]["file"]).frame_count == 8  # playable

    with pytest.raises(ConfigError, match="--resume"):  # never thrown away silently
        stylize_video(src, dst, invert, batch_size=4, segment_frames=8, progress=False)

    resumed = stylize_video(src, dst, invert, batch_size=4, segment_frames=8, resume=True,
                            progress=False)
    assert (resumed.resumed_from, resumed.frames) == (20, clean.frames) == (20, 40)
    source_times = [t for t, _ in packets(src)]
    assert [t for t, _ in packets(clean.dst)] == pytest.approx(source_times, abs=1e-6)
    assert [t for t, _ in packets(dst)] == pytest.approx([t for t, _ in packets(clean.dst)],
                                                         abs=1e-6)
    assert probe_video(dst).duration == pytest.approx(probe_video(clean.dst).duration, abs=0.05)
    assert [a.codec for a in probe_video(dst).audio] == ["aac"]
    diff = np.abs(np.stack(decoded(dst)).astype(np.int16) - np.stack(decoded(clean.dst)))
    assert diff.mean() < 2  # same pictures (segment boundaries differ: encoder noise only)
    assert not parts.exists()


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=20)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, dst, interrupt_at(12, invert), batch_size=4, segment_frames=4,
                      progress=False)
    with pytest.raises(ConfigError, match="other settings"):
        stylize_video(src, dst, invert, crf=30, segment_frames=4, resume=True, progress=False)
    with pytest.raises(ConfigError, match="other settings"):
        stylize_video(src, dst, invert, segment_frames=4, resume=True, progress=False,
                      resume_key="another model")


def test_a_killed_run_leaves_no_half_segment_behind(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=12)
    dst = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, dst, interrupt_at(8, invert), batch_size=4, segment_frames=4,
                      progress=False)
    parts = tmp_path / "out.mp4.parts"
    (parts / "seg-00099.mp4").write_bytes(b"half a segment from a killed process")
    report = stylize_video(src, dst, invert, batch_size=4, segment_frames=4, resume=True,
                           progress=False)
    assert report.frames == probe_video(dst).frame_count == 12


def test_resume_with_nothing_to_resume_starts_from_the_beginning(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=6)
    report = stylize_video(src, tmp_path / "o.mp4", invert, resume=True, progress=False)
    assert (report.resumed_from, report.frames) == (0, 6)


def test_temporal_blend_resumes_exactly(tmp_path: Path) -> None:
    """Lossless FFV1 output: the resumed video must equal the clean one pixel for pixel."""
    src = write_clip(tmp_path / "src.mkv", frames=24, scene="static", noise=6.0)
    blend = TemporalBlend(strength=0.7, threshold=20.0)

    def noisy_style(frames: list[np.ndarray]) -> list[np.ndarray]:
        return [np.clip((f.astype(np.int16) - 128) * 2 + 128, 0, 255).astype(np.uint8)
                for f in frames]

    def run(dst: Path, fn: Callable[[list[np.ndarray]], list[np.ndarray]], *,
            resume: bool = False) -> Path:
        return stylize_video(src, dst, fn, batch_size=3, segment_frames=5, codec="ffv1",
                             pix_fmt="yuv444p", temporal=blend, resume=resume,
                             progress=False).dst

    clean = run(tmp_path / "clean.mkv", noisy_style)
    dst = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        run(dst, interrupt_at(13, noisy_style))
    run(dst, noisy_style, resume=True)
    assert np.array_equal(np.stack(decoded(dst)), np.stack(decoded(clean)))
