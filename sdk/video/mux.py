"""Final assembly: join the segments by copying packets, add the source's audio, no re-encoding.

Video packets of all segments go into one stream (same encoder settings, so the same codec
headers), timestamps untouched except where B-frame reordering at a segment boundary would make
decode timestamps repeat (then the later one is moved up by one tick, never past its presentation
time). Audio streams are copied packet by packet when the output container can hold their codec;
otherwise they are transcoded (AAC, or the container's default such as Opus for WebM) and the
reason is logged. Packets of all streams are interleaved by time.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restyle._optional import require
from restyle.errors import OutputError
from restyle.video.probe import open_input
from restyle.video.writer import container_options

if TYPE_CHECKING:
    from av.container import InputContainer, OutputContainer

__all__ = ["assemble"]

log = logging.getLogger("restyle.video")


def _video_packets(segments: list[Path], out_stream: Any) -> Iterator[tuple[float, Any]]:
    last_dts: int | None = None
    tb: Fraction | None = None
    clock = float("-inf")  # interleaving key: never goes back
    for path in segments:
        with open_input(path) as container:
            stream = container.streams.video[0]
            seg_tb = Fraction(stream.time_base or Fraction(1, 90000))
            if tb is None:
                tb = seg_tb
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                pts, dts = packet.pts, packet.dts  # dts may be unset (Matroska B-frames)
                if seg_tb != tb:
                    pts = None if pts is None else round(pts * seg_tb / tb)
                    dts = None if dts is None else round(dts * seg_tb / tb)
                if dts is not None and last_dts is not None and dts <= last_dts:
                    dts = last_dts + 1
                    if pts is not None and dts > pts:
                        raise OutputError(f"{path}: decode timestamps cannot be joined at a "
                                          "segment boundary; delete the .parts folder and run "
                                          "again with a larger segment size")
                if dts is not None:
                    last_dts = dts
                packet.pts, packet.dts, packet.time_base = pts, dts, tb
                packet.stream = out_stream
                stamp = dts if dts is not None else pts
                if stamp is not None:
                    clock = max(clock, float(stamp * tb))
                yield clock, packet


def _audio_packets(src: InputContainer, in_stream: Any, out_stream: Any,
                   transcode: bool) -> Iterator[tuple[float, Any]]:
    tb = Fraction(out_stream.time_base)
    if not transcode:
        clock = float("-inf")
        for packet in src.demux(in_stream):
            if not packet.size:
                continue
            stamp = packet.dts if packet.dts is not None else packet.pts
            if stamp is not None and packet.time_base is not None:
                clock = max(clock, float(stamp * packet.time_base))
            packet.stream = out_stream
            yield clock, packet
        return
    for frame in src.decode(in_stream):
        for packet in out_stream.encode(frame):
            yield float((packet.dts or 0) * tb), packet
    for packet in out_stream.encode(None):
        yield float((packet.dts or 0) * tb), packet


def _add_audio(out: OutputContainer, in_stream: Any, transcode: bool) -> Any:
    av = require("av")
    if not transcode:
        return out.add_stream_from_template(in_stream, opaque=True)
    candidates = ["aac", "libopus", out.default_audio_codec]
    for codec in candidates:
        if codec not in av.codecs_available:
            continue
        try:
            stream = out.add_stream(codec, rate=in_stream.rate)
        except ValueError:
            continue
        if isinstance(stream, av.audio.stream.AudioStream):
            stream.layout = in_stream.layout.name
        return stream
    raise OutputError(f"no audio encoder fits {out.format.name}: choose another output suffix")


def _open(tmp: Path, video_template: Any, audio_in: list[Any],
          transcode: list[bool]) -> tuple[OutputContainer, Any, list[Any]]:
    av = require("av")
    tb = Fraction(video_template.time_base or Fraction(1, 90000))
    out = av.open(str(tmp), mode="w", options=container_options(tmp, tb))
    try:
        video = out.add_stream_from_template(video_template, opaque=True)
        audio = [_add_audio(out, a, t) for a, t in zip(audio_in, transcode, strict=True)]
        out.start_encoding()
    except BaseException:
        out.close()
        raise
    return out, video, audio


def assemble(segments: list[Path], source: Path, tmp: Path) -> list[str]:
    """Write ``tmp``: the video of ``segments`` joined, plus the audio of ``source``.

    Args:
        segments: Finished segment files, in order.
        source: The original video (its audio streams are taken).
        tmp: The file to write (renamed onto the final output by the caller).

    Returns:
        One line per audio stream: how it was carried over ("copied" / "transcoded to …").

    Raises:
        OutputError: The output cannot be written.
    """
    av = require("av")
    with ExitStack() as stack:
        first = stack.enter_context(open_input(segments[0]))
        with open_input(source) as probe:
            n_audio = len(probe.streams.audio)
            left_out = [f"{s.type} stream #{s.index}" for s in probe.streams
                        if s.type != "audio" and s is not probe.streams.video[0]]
        if left_out:
            log.info("%s: carrying over the first video stream and the audio; left out: %s",
                     source, ", ".join(left_out))
        # One demuxer per audio stream: packets of several streams are pulled independently.
        audio_src = [stack.enter_context(open_input(source)) for _ in range(n_audio)]
        audio_in = [c.streams.audio[i] for i, c in enumerate(audio_src)]
        transcode = [False] * n_audio
        try:
            out, video, audio = _open(tmp, first.streams.video[0], audio_in, transcode)
        except (ValueError, av.error.FFmpegError) as exc:
            if not audio_in:
                raise OutputError(f"cannot write {tmp}: {exc}") from exc
            log.info("audio cannot be copied into %s (%s): transcoding it", tmp.suffix, exc)
            transcode = [True] * n_audio
            out, video, audio = _open(tmp, first.streams.video[0], audio_in, transcode)
        report = [f"{a.codec_context.name} → {o.codec_context.name} "
                  f"({'transcoded' if t else 'copied'})"
                  for a, o, t in zip(audio_in, audio, transcode, strict=True)]
        with out:
            sources = [_video_packets(segments, video)]
            sources += [_audio_packets(c, a, o, t)
                        for c, a, o, t in zip(audio_src, audio_in, audio, transcode, strict=True)]
            try:
                for _, packet in heapq.merge(*sources, key=lambda item: item[0]):
                    out.mux(packet)
            except av.error.FFmpegError as exc:
                raise OutputError(f"cannot write {tmp}: {exc}") from exc
    return report
