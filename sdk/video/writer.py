"""Encoding: codec options and one segment file (the encode thread is in :mod:`.encoder`).

Frames are encoded with the source's timestamps (variable frame rate kept), frame rate, rotation
(display matrix), colour range and colour tags. The output is written as numbered *segments*
(see :mod:`restyle.video.segments`): each finished segment is a playable file recorded in a
manifest, so an interrupted run keeps its finished part and ``resume`` continues after it.

Odd frame sizes: 4:2:0 and 4:2:2 pixel formats store chroma at half resolution, and H.264 / HEVC
encoders (libx264, libx265, NVENC) then need even sizes — H.264 cannot even crop a single pixel
row in 4:2:0. restyle pads such frames to the next even size by repeating the last row/column
(output = input rounded up to even, nothing cut). Encoders that code odd sizes exactly
(libvpx-vp9, libsvtav1, ffv1) and non-subsampled formats (``pix_fmt="yuv444p"``) keep the exact
size.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from restyle._optional import require
from restyle.errors import BackendUnavailableError, ConfigError, OutputError
from restyle.video.reader import Frame, sws_colorspace

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.video.stream import VideoStream

__all__ = [
    "CODECS",
    "EncodeSettings",
    "SegmentWriter",
    "codec_options",
    "container_options",
]

log = logging.getLogger("restyle.video")

#: Encoders restyle knows how to drive (quality options below); others run on their defaults.
CODECS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "h264_nvenc", "hevc_nvenc")
#: Encoders that code odd widths/heights exactly in subsampled pixel formats.
_ODD_SIZE_OK = frozenset({"libvpx-vp9", "libvpx", "libsvtav1", "libaom-av1", "librav1e", "ffv1"})
_POLL = 0.1


_MOV_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".3gp", ".3g2"})


def container_options(path: Path, time_base: Fraction) -> dict[str, str]:
    """Muxer options that keep timestamps exact.

    MP4/MOV write edit lists in the movie time scale (1/1000 s by default), which would move a
    segment that does not start at 0 by up to half a millisecond; the movie time scale is set to
    the track's (the time base's denominator, doubled up to at least 10000, as the muxer does).
    """
    if path.suffix.lower() not in _MOV_SUFFIXES:
        return {}
    scale = time_base.denominator
    while scale < 10000:
        scale *= 2
    return {"movie_timescale": str(scale), "video_track_timescale": str(scale)}


def codec_options(codec: str, *, crf: int | None, preset: str | None) -> dict[str, str]:
    """FFmpeg encoder options for a constant-quality encode with ``codec``.

    Args:
        codec: Encoder name, e.g. ``"libx264"``.
        crf: Constant rate factor / quality (lower is better; ``None``: encoder default).
        preset: Speed preset as the encoder names it (x264/x265: ``ultrafast`` … ``veryslow``,
            NVENC: ``p1`` … ``p7``, SVT-AV1: ``0`` … ``13``, VP9: ``cpu-used`` ``0`` … ``8``).

    Returns:
        Options for ``stream.options``.
    """
    opts: dict[str, str] = {}
    q = None if crf is None else str(crf)
    if codec in ("libx264", "libx265", "libsvtav1"):
        if q is not None:
            opts["crf"] = q
        if preset:
            opts["preset"] = preset
        if codec == "libx265":
            opts["x265-params"] = "log-level=error"
    elif codec == "libvpx-vp9":
        if q is not None:
            opts.update({"crf": q, "b": "0"})
        opts["row-mt"] = "1"
        if preset:
            opts["cpu-used"] = preset
    elif codec in ("h264_nvenc", "hevc_nvenc"):
        if q is not None:
            opts.update({"rc": "vbr", "cq": q, "b": "0"})
        if preset:
            opts["preset"] = preset
    elif q is not None or preset:
        log.warning("%s: restyle has no quality settings for this encoder; crf/preset ignored "
                    "(known: %s)", codec, ", ".join(CODECS))
    return opts


@dataclass(frozen=True)
class EncodeSettings:
    """How the stylised frames are encoded.

    Attributes:
        codec: Video encoder (see :data:`CODECS`).
        crf: Constant quality; ``None`` for the encoder's default.
        preset: Encoder speed preset; ``None`` for its default.
        pix_fmt: Pixel format of the encoded video.
        width: Width of the stylised frames.
        height: Height of the stylised frames.
        fps: Frame rate written to the stream (the source's average rate).
        time_base: Time base of the frame timestamps (the source's).
        rotation: Display rotation in degrees, counter-clockwise.
        color_range: ``AVColorRange`` of the encoded video (the source's).
        colorspace: ``AVColorSpace`` (the source's matrix; 2 = unspecified).
        color_primaries: ``AVColorPrimaries`` tag.
        color_trc: ``AVColorTransferCharacteristic`` tag.
        sample_aspect_ratio: Pixel aspect ratio, ``None`` for square.
    """

    codec: str
    crf: int | None
    preset: str | None
    pix_fmt: str
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    rotation: int = 0
    color_range: int = 0
    colorspace: int = 2
    color_primaries: int = 2
    color_trc: int = 2
    sample_aspect_ratio: Fraction | None = None

    @property
    def encoded_size(self) -> tuple[int, int]:
        """(width, height) as encoded: rounded up to even where the codec and format need it."""
        av = require("av")
        fmt = av.VideoFormat(self.pix_fmt, 2, 2)
        sub_w = any(c.width == 1 for c in fmt.components)
        sub_h = any(c.height == 1 for c in fmt.components)
        odd_ok = self.codec in _ODD_SIZE_OK
        w = self.width + (self.width % 2 if sub_w and not odd_ok else 0)
        h = self.height + (self.height % 2 if sub_h and not odd_ok else 0)
        return w, h

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the resume manifest)."""
        return {k: (str(v) if isinstance(v, Fraction) else v) for k, v in self.__dict__.items()}

    def check(self) -> None:
        """Raise :class:`ConfigError` unless ``codec`` is a video encoder of this PyAV."""
        av = require("av")
        try:
            codec = av.Codec(self.codec, "w")
        except (av.codec.codec.UnknownCodecError, av.error.FFmpegError) as exc:
            raise ConfigError(
                f"video encoder {self.codec!r} is not in this PyAV/FFmpeg build: use one of "
                f"{', '.join(c for c in CODECS if c in av.codecs_available)}"
            ) from exc
        if codec.type != "video":
            raise ConfigError(f"{self.codec!r} is a {codec.type} encoder, not a video encoder: "
                              "use --codec libx264")


class SegmentWriter:
    """Encode frames into one file; :meth:`finish` makes it a complete, playable video.

    Raises:
        ConfigError: The container cannot hold the codec, or the encoder rejects the settings.
        BackendUnavailableError: A hardware encoder (NVENC) cannot open on this machine.
        OutputError: The file cannot be written.
    """

    def __init__(self, path: Path, settings: EncodeSettings) -> None:
        av = self._av = require("av")
        self.path = path
        self.settings = settings
        self.frames = 0
        self._pad = (settings.encoded_size[0] - settings.width,
                     settings.encoded_size[1] - settings.height)
        self._cs = sws_colorspace(settings.colorspace)
        if settings.codec == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "2")  # SVT-AV1 prints its banner on stdout otherwise
        try:
            self._container: OutputContainer = av.open(
                str(path), mode="w", options=container_options(path, settings.time_base))
        except ValueError as exc:  # PyAV: "Could not determine output format"
            raise ConfigError(f"{path.suffix or 'no suffix'} is not a video container suffix "
                              f"({exc}): name the output .mp4, .mkv, .webm or .mov") from exc
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write {path}: {exc}; choose a writable output "
                              "path") from exc
        try:
            self._stream = self._open_stream()
        except BaseException:
            self._container.close()
            path.unlink(missing_ok=True)
            raise

    def _open_stream(self) -> VideoStream:
        av = require("av")
        s = self.settings
        width, height = s.encoded_size
        try:
            stream = self._container.add_stream(s.codec, rate=s.fps)
        except ValueError as exc:  # container cannot hold this codec
            raise ConfigError(f"{exc}: choose another --codec or an output suffix that holds it "
                              "(.mp4/.mkv for libx264/libx265, .webm/.mkv for libvpx-vp9)") from exc
        if not isinstance(stream, av.video.stream.VideoStream):
            raise ConfigError(f"{s.codec!r} is not a video encoder: use --codec libx264")
        stream.width, stream.height = width, height
        stream.pix_fmt = s.pix_fmt
        stream.time_base = s.time_base
        ctx = stream.codec_context
        ctx.time_base = s.time_base
        ctx.color_range = s.color_range
        ctx.colorspace = s.colorspace
        ctx.color_primaries = s.color_primaries
        ctx.color_trc = s.color_trc
        if s.sample_aspect_ratio:
            ctx.sample_aspect_ratio = s.sample_aspect_ratio
        options: dict[str, object] = dict(codec_options(s.codec, crf=s.crf, preset=s.preset))
        stream.options = options
        if s.rotation:
            stream.set_display_rotation(s.rotation)
        try:
            self._container.start_encoding()
        except av.error.FFmpegError as exc:
            if "nvenc" in s.codec:
                raise BackendUnavailableError(
                    f"{s.codec} cannot open here ({exc}): it needs an NVIDIA GPU with NVENC and "
                    "its driver; use --codec libx264") from exc
            raise ConfigError(f"{s.codec} rejects these settings ({exc}): check --crf/--preset, "
                              "or use --codec libx264") from exc
        return cast("VideoStream", stream)

    def write(self, frame: Frame) -> None:
        """Encode one stylised frame with its source timestamp."""
        av = self._av
        image = frame.image
        if self._pad != (0, 0):
            image = np.pad(image, ((0, self._pad[1]), (0, self._pad[0]), (0, 0)), mode="edge")
        rgb = av.VideoFrame.from_ndarray(image, format="rgb24")
        out = rgb.reformat(format=self.settings.pix_fmt, dst_colorspace=self._cs,
                           dst_color_range=self.settings.color_range or None)
        out.pts = frame.pts
        out.time_base = self.settings.time_base
        if frame.duration:
            out.duration = frame.duration
        for packet in self._stream.encode(out):
            self._container.mux(packet)
        self.frames += 1

    def finish(self) -> None:
        """Flush the encoder and close the file."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()

    def abort(self) -> None:
        """Close and delete the unfinished file."""
        try:
            self._container.close()
        finally:
            self.path.unlink(missing_ok=True)
