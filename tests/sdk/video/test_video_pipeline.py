"""The video pipeline on clips written through PyAV, with real deterministic stylise functions.

Checked: frame count, frame rate, timestamps (constant and variable frame rate), duration, audio,
rotation, colour range, odd sizes, order, threads, and the contract of the batch function.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from restyle.errors import BackendError, ConfigError
from restyle.video import output_size, probe_video, stylize_video
from restyle.video.synthetic import write_clip


def decode(path: Path) -> tuple[list[np.ndarray], list[float]]:
    """Frames (RGB, colour range honoured) and presentation times in seconds."""
    frames, times = [], []
    with av.open(str(path)) as container:
        for f in container.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24", src_color_range=f.color_range))
            times.append(float(f.pts * f.time_base))
    return frames, times


def invert(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [255 - f for f in frames]


COLOUR_MATRIX = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]],
                         np.float32)


def sepia(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A fixed colour matrix, as a batch: one stacked array in, a stacked array out."""
    batch = np.stack(frames).astype(np.float32) @ COLOUR_MATRIX.T
    return list(np.clip(batch, 0, 255).astype(np.uint8))


def mean_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.abs(np.stack(a).astype(np.int16) - np.stack(b)).mean())


@pytest.mark.parametrize("vfr", [False, True], ids=["cfr", "vfr"])
def test_frames_timing_duration_and_audio_are_kept(tmp_path: Path, vfr: bool) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=36, fps=24, vfr=vfr, audio="aac")
    report = stylize_video(src, tmp_path / "out.mp4", invert, batch_size=5, progress=False)
    a, b = probe_video(src), probe_video(report.dst)
    assert report.frames == b.frame_count == a.frame_count == 36
    assert b.fps == pytest.approx(a.fps, rel=0.02)
    assert b.duration == pytest.approx(a.duration, abs=1 / float(a.fps))
    in_frames, in_times = decode(src)
    out_frames, out_times = decode(report.dst)
    assert out_times == pytest.approx(in_times, abs=1e-6)  # every timestamp, VFR gaps included
    # Order kept: each output frame is the inverse of the input frame at the same position.
    assert mean_diff(out_frames, invert(in_frames)) < 4
    assert [(x.codec, x.sample_rate) for x in b.audio] == [("aac", 48000)]
    assert report.audio == ("aac → aac (copied)",)
    with av.open(str(src)) as s, av.open(str(report.dst)) as d:  # the very same audio packets
        sa = [bytes(p) for p in s.demux(audio=0) if p.size]
        da = [bytes(p) for p in d.demux(audio=0) if p.size]
    assert sa == da
    assert not (tmp_path / "out.mp4.parts").exists()


def test_colour_range_rotation_and_pixels_survive_a_round_trip(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=12, full_range=True, rotation=-90)
    report = stylize_video(src, tmp_path / "out.mp4", lambda fs: [f.copy() for f in fs],
                           progress=False)
    info = probe_video(report.dst)
    assert (info.color_range, info.rotation) == (2, -90)
    assert mean_diff(decode(report.dst)[0], decode(src)[0]) < 3  # no range/matrix shift


def test_audio_that_the_container_cannot_hold_is_transcoded(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=12, audio="aac")
    report = stylize_video(src, tmp_path / "out.webm", sepia, codec="libvpx-vp9", progress=False)
    assert report.audio == ("aac → libopus (transcoded)",)
    assert [x.codec for x in probe_video(report.dst).audio] == ["opus"]


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "suffix", "expected"),
    [("libx264", "yuv420p", ".mp4", (66, 50)),  # padded to even: H.264 4:2:0 cannot code 65×49
     ("libx264", "yuv444p", ".mkv", (65, 49)),  # no chroma subsampling: exact
     ("libvpx-vp9", "yuv420p", ".webm", (65, 49))],  # VP9 codes odd sizes
)
def test_odd_frame_sizes(tmp_path: Path, codec: str, pix_fmt: str, suffix: str,
                         expected: tuple[int, int]) -> None:
    src = write_clip(tmp_path / "odd.mkv", width=65, height=49, frames=10, pix_fmt="yuv444p")
    report = stylize_video(src, tmp_path / f"out{suffix}", invert, codec=codec, pix_fmt=pix_fmt,
                           progress=False)
    info = probe_video(report.dst)
    assert (info.width, info.height) == (report.width, report.height) == expected
    assert info.frame_count == 10
    out, ref = decode(report.dst)[0], invert(decode(src)[0])
    # The picture sits at the top left; padding repeats the last row and column.
    assert mean_diff([f[:49, :65] for f in out], ref) < 6
    if expected != (65, 49):
        assert mean_diff([f[:49, 65:] for f in out], [f[:, 64:] for f in ref]) < 8


def test_size_scales_to_a_height_keeping_aspect(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", width=64, height=48, frames=6)
    seen: list[tuple[int, ...]] = []

    def record(frames: list[np.ndarray]) -> list[np.ndarray]:
        seen.extend(f.shape for f in frames)
        return invert(frames)

    report = stylize_video(src, tmp_path / "out.mp4", record, size=30, progress=False)
    assert set(seen) == {(30, 40, 3)}
    assert (probe_video(report.dst).width, probe_video(report.dst).height) == (40, 30)
    rotated = probe_video(write_clip(tmp_path / "r.mp4", width=64, height=48, rotation=90))
    assert output_size(rotated, 32) == (32, 24)  # shown 48 wide, 64 high → 24×32: coded 32×24


def test_decoding_and_encoding_run_on_their_own_threads(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=16)
    names: set[str] = set()

    def look(frames: list[np.ndarray]) -> list[np.ndarray]:
        names.update(t.name for t in threading.enumerate())
        return invert(frames)

    stylize_video(src, tmp_path / "out.mp4", look, batch_size=4, progress=False)
    assert {"restyle-decode", "restyle-encode"} <= names
    assert not {t.name for t in threading.enumerate()} & {"restyle-decode", "restyle-encode"}


def test_an_error_in_the_batch_function_propagates_and_threads_end(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=20)
    calls = 0

    def failing(frames: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("backend exploded")
        return invert(frames)

    with pytest.raises(RuntimeError, match="backend exploded"):
        stylize_video(src, tmp_path / "out.mp4", failing, batch_size=4, progress=False)
    assert not {t.name for t in threading.enumerate()} & {"restyle-decode", "restyle-encode"}
    assert not (tmp_path / "out.mp4").exists()
    # What was finished before the error is kept for a resume.
    resumed = stylize_video(src, tmp_path / "out.mp4", invert, batch_size=4, resume=True,
                            progress=False)
    assert (resumed.resumed_from, resumed.frames) == (8, 20)


@pytest.mark.parametrize("bad", ["count", "shape", "dtype"])
def test_a_batch_function_that_breaks_the_contract_is_named(tmp_path: Path, bad: str) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=4)

    def broken(frames: list[np.ndarray]) -> list[np.ndarray]:
        if bad == "count":
            return frames[:-1]
        if bad == "shape":
            return [f[:-2] for f in frames]
        return [f.astype(np.float32) for f in frames]  # type: ignore[misc]

    with pytest.raises(BackendError, match="stylize_batch returned"):
        stylize_video(src, tmp_path / "out.mp4", broken, progress=False)


def test_views_into_a_reused_output_buffer_are_safe(tmp_path: Path) -> None:
    """A backend may hand back views of one output buffer that the next batch overwrites."""
    src = write_clip(tmp_path / "src.mp4", frames=12)
    buffer = np.zeros((3, 48, 64, 3), np.uint8)

    def reuse(frames: list[np.ndarray]) -> list[np.ndarray]:
        for i, f in enumerate(frames):
            buffer[i] = 255 - f
        return [buffer[i] for i in range(len(frames))]

    report = stylize_video(src, tmp_path / "out.mp4", reuse, batch_size=3, progress=False)
    assert mean_diff(decode(report.dst)[0], invert(decode(src)[0])) < 4


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=2)
    with pytest.raises(ConfigError, match="not in this PyAV"):
        stylize_video(src, tmp_path / "o.mp4", invert, codec="no-such-codec", progress=False)
    with pytest.raises(ConfigError, match="does not support 'libx264'"):
        stylize_video(src, tmp_path / "o.webm", invert, codec="libx264", progress=False)
    with pytest.raises(ConfigError, match="not a video container suffix"):
        stylize_video(src, tmp_path / "o.xyz", invert, progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        stylize_video(src, tmp_path / "o.mp4", invert, batch_size=0, progress=False)
    assert not list(tmp_path.glob("o.*"))  # no parts folder left when nothing was finished


def test_report_describes_the_run(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=10, fps=25)
    report = stylize_video(src, tmp_path / "out.mkv", sepia, progress=False,
                           measure_flicker=True)
    assert report.frame_rate == Fraction(25)
    assert report.fps > 0 and report.seconds > 0
    assert report.audio == ()
    assert report.flicker is not None


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])
def test_rotation_and_range_in_other_containers(tmp_path: Path, suffix: str) -> None:
    src = write_clip(tmp_path / f"src{suffix}", frames=6, rotation=90, full_range=True)
    info = probe_video(stylize_video(src, tmp_path / f"out{suffix}", invert, progress=False).dst)
    assert (info.rotation, info.color_range, info.frame_count) == (90, 2, 6)


@pytest.mark.gpu
def test_nvenc_encodes_where_a_gpu_has_it(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "src.mp4", frames=12, audio="aac")
    report = stylize_video(src, tmp_path / "out.mp4", invert, codec="h264_nvenc", progress=False)
    info = probe_video(report.dst)
    assert (info.frame_count, info.codec) == (12, "h264")
    assert decode(report.dst)[1] == pytest.approx(decode(src)[1], abs=1e-6)
