"""Stream facts of a video file: size, frame rate, time base, frame count, rotation, colour, audio.

:func:`probe_video` opens the file once, decodes its first frame (rotation and colour range live on
decoded frames in FFmpeg 7+) and turns every way a file can be unusable into an
:class:`~restyle.errors.InvalidVideoError` that names the file and the problem.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restyle._optional import require
from restyle.errors import InvalidVideoError

if TYPE_CHECKING:
    from av.container import InputContainer

__all__ = ["AudioInfo", "VideoInfo", "open_input", "probe_video"]

log = logging.getLogger("restyle.video")


@dataclass(frozen=True)
class AudioInfo:
    """One audio stream of the source."""

    index: int
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found in a file's first video stream.

    Attributes:
        path: The file.
        width: Coded width in pixels (before rotation is applied for display).
        height: Coded height in pixels.
        fps: Average frame rate (frames / duration; variable frame rate clips included).
        time_base: Time base of the stream's timestamps, in seconds.
        frame_count: Number of video frames (from the header, else by counting packets).
        duration: Seconds, or ``None`` when the container does not say.
        rotation: Display rotation in degrees, counter-clockwise (0 when none).
        color_range: FFmpeg ``AVColorRange`` (0 unspecified, 1 limited/MPEG, 2 full/JPEG).
        colorspace: FFmpeg ``AVColorSpace`` of the frames (2 = unspecified).
        color_primaries: FFmpeg ``AVColorPrimaries`` (2 = unspecified).
        color_trc: FFmpeg ``AVColorTransferCharacteristic`` (2 = unspecified).
        codec: Name of the video codec.
        sample_aspect_ratio: Pixel aspect ratio, ``None`` when square or unknown.
        audio: The audio streams.
        pix_fmt: Pixel format of the decoded frames (e.g. ``yuv420p``; ``""`` when unknown).
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count: int
    duration: float | None
    rotation: int
    color_range: int
    colorspace: int
    color_primaries: int
    color_trc: int
    codec: str
    sample_aspect_ratio: Fraction | None
    audio: tuple[AudioInfo, ...]
    pix_fmt: str = ""

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, with a ±90° rotation applied."""
        if abs(self.rotation) == 90:
            return self.height, self.width
        return self.width, self.height


def open_input(path: str | os.PathLike[str]) -> InputContainer:
    """Open ``path`` for demuxing, translating PyAV's errors into :class:`InvalidVideoError`.

    Raises:
        InvalidVideoError: The file is missing, a folder, or not a media file FFmpeg can read.
        DependencyError: PyAV is not installed.
    """
    av = require("av")
    p = Path(path)
    if not p.exists():
        raise InvalidVideoError(f"video {p} does not exist: check the path")
    if p.is_dir():
        raise InvalidVideoError(f"video {p} is a folder: pass a video file")
    try:
        container: InputContainer = av.open(str(p), mode="r")
    except av.error.EOFError as exc:
        raise InvalidVideoError(
            f"{p} ends before its first video frame: it is empty (no frames) or truncated; pass "
            "a video with at least one frame"
        ) from exc
    except av.error.FFmpegError as exc:
        raise InvalidVideoError(
            f"{p} is not a readable video ({exc.strerror or exc}): the file is corrupt or not a "
            "video; re-export it or convert it with ffmpeg"
        ) from exc
    return container


def _frame_count(path: Path, stream: Any) -> int:
    if stream.frames:
        return int(stream.frames)
    # Matroska / WebM do not store a count: count packets (demuxing only, no decoding).
    av = require("av")
    with open_input(path) as container:
        try:
            return sum(1 for packet in container.demux(video=0) if packet.size)
        except av.error.FFmpegError as exc:
            raise InvalidVideoError(f"{path} is corrupt ({exc.strerror or exc}): re-export it "
                                    "or repair it with ffmpeg") from exc


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the facts of ``path``'s first video stream.

    Args:
        path: A video file.

    Returns:
        The stream's facts.

    Raises:
        InvalidVideoError: Not a video, corrupt, no video stream, or no frames.
        DependencyError: PyAV is not installed (``pip install 'restyle[video]'``).

    Example:
        >>> import tempfile
        >>> from restyle.video.probe import probe_video
        >>> from restyle.video.synthetic import write_clip
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     info = probe_video(write_clip(f"{tmp}/clip.mp4", width=64, height=48, frames=6))
        >>> info.frame_count, info.width, info.height
        (6, 64, 48)
    """
    av = require("av")
    p = Path(path)
    with open_input(p) as container:
        if not container.streams.video:
            what = "no video frames" if not container.streams else "no video stream"
            raise InvalidVideoError(f"{p} has {what}: pass a video with at least one frame")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise InvalidVideoError(
                f"{p}: its first video frame cannot be decoded ({exc.strerror or exc}): the file "
                "is corrupt; re-export it"
            ) from exc
        if first is None:
            raise InvalidVideoError(f"{p} contains no video frames: the recording is empty; "
                                    "pass a video with at least one frame")
        count = _frame_count(p, stream)
        if count == 0:
            raise InvalidVideoError(f"{p} contains no video frames: pass a non-empty video")
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if stream.duration is not None:
            duration: float | None = float(stream.duration * time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = None
        if not rate:
            if duration:
                rate = Fraction(count) / Fraction(duration).limit_denominator(1_000_000)
            else:
                raise InvalidVideoError(f"{p}: its frame rate is unknown; remux it with ffmpeg")
        sar = stream.sample_aspect_ratio
        audio = tuple(
            AudioInfo(index=a.index, codec=a.codec_context.name, sample_rate=a.rate or 0,
                      channels=a.channels or 0)
            for a in container.streams.audio
        )
        return VideoInfo(
            path=p,
            width=first.width,
            height=first.height,
            fps=Fraction(rate),
            time_base=time_base,
            frame_count=count,
            duration=duration,
            rotation=int(first.rotation or 0),
            color_range=int(first.color_range),
            colorspace=int(first.colorspace),
            color_primaries=int(first.color_primaries),
            color_trc=int(first.color_trc),
            codec=stream.codec_context.name,
            sample_aspect_ratio=Fraction(sar) if sar and sar != 1 else None,
            audio=audio,
            pix_fmt=first.format.name if first.format is not None else "",
        )
