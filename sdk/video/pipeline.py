"""Stylise a video: decode → batched stylise → encode, overlapped, resumable, written atomically.

Three threads, two bounded queues::

    decode thread ──(frames)──▶ caller's thread: stylize_batch + temporal blend ──▶ encode thread

Decoding and encoding run in FFmpeg without the GIL, so they hide behind the backend's compute.
Frame order is kept by the queues; every frame keeps its source timestamp. The encode thread writes
numbered segments beside the output (:mod:`restyle.video.segments`); at the end they are joined
without re-encoding, the source's audio is added, and the result is renamed onto ``dst``.

Why over 300 lines: the video job's decode, stylise and encode threads, resume and truncation
checks share one state; probing, reading, writing and segments are modules of their own.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from restyle._optional import require
from restyle.errors import BackendError, ConfigError, InvalidVideoError
from restyle.paths import atomic_output, remove_stale_temps
from restyle.progress import Progress
from restyle.video.encoder import EncoderThread
from restyle.video.mux import assemble
from restyle.video.probe import VideoInfo, probe_video
from restyle.video.reader import Frame, FrameReader
from restyle.video.segments import PartsStore, source_identity
from restyle.video.temporal import FlickerMeter, TemporalBlend, TemporalBlender
from restyle.video.writer import EncodeSettings

__all__ = ["StylizeBatch", "VideoReport", "choose_pix_fmt", "output_size", "stylize_video"]

log = logging.getLogger("restyle.video")

#: A batch function: H×W×3 uint8 RGB frames in, frames of the same shapes out, in order.
StylizeBatch = Callable[[list[np.ndarray]], Sequence[np.ndarray]]


@dataclass(frozen=True)
class VideoReport:
    """What :func:`stylize_video` did.

    Attributes:
        src: The source video.
        dst: The written video.
        frames: Video frames in ``dst``.
        resumed_from: Frames finished by an earlier, interrupted run.
        width: Encoded width.
        height: Encoded height.
        frame_rate: Frame rate of ``dst`` (the source's average rate).
        seconds: Wall time of this run (stylising and encoding; joining excluded).
        fps: Frames stylised and encoded per second in this run.
        codec: Video encoder used.
        audio: How each audio stream was carried over.
        flicker: The flicker metric of the stylised frames (when measured).
    """

    src: Path
    dst: Path
    frames: int
    resumed_from: int
    width: int
    height: int
    frame_rate: Fraction
    seconds: float
    fps: float
    codec: str
    audio: tuple[str, ...]
    flicker: float | None


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def output_size(info: VideoInfo, height: int | None) -> tuple[int, int]:
    """Coded (width, height) of the stylised frames for a target display ``height``.

    ``None`` keeps the source size. Otherwise the displayed height becomes ``height`` and the
    width keeps the aspect ratio; both are rounded to even numbers.
    """
    if height is None:
        return info.width, info.height
    dw, dh = info.display_size
    new_h = _even(height)
    new_w = _even(dw * new_h / dh)
    return (new_h, new_w) if abs(info.rotation) == 90 else (new_w, new_h)


def choose_pix_fmt(info: VideoInfo, codec: str, width: int, height: int) -> str:
    """The encoded pixel format when none is given: ``yuv420p`` (plays everywhere), unless the
    frames have an odd side and the source's own format codes it exactly with ``codec`` (a
    4:4:4 source, say), which keeps the size."""
    if (width % 2 == 0 and height % 2 == 0) or not info.pix_fmt:
        return "yuv420p"
    av = require("av")
    try:
        fmt = av.VideoFormat(info.pix_fmt, 2, 2)
        formats = {f.name for f in (av.Codec(codec, "w").video_formats or ())}
    except (ValueError, av.error.FFmpegError, av.codec.codec.UnknownCodecError):
        return "yuv420p"
    halves = any(c.width == 1 or c.height == 1 for c in fmt.components)
    chroma = info.pix_fmt.startswith("yuv") and len(fmt.components) >= 3
    if chroma and not halves and info.pix_fmt in formats:
        return info.pix_fmt
    return "yuv420p"


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _checked(outputs: Sequence[np.ndarray], inputs: list[np.ndarray]) -> list[np.ndarray]:
    if len(outputs) != len(inputs):
        raise BackendError(f"stylize_batch returned {len(outputs)} frames for a batch of "
                           f"{len(inputs)}: it must return one frame per input, in order")
    checked = []
    for out, inp in zip(outputs, inputs, strict=True):
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != inp.shape:
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise BackendError(f"stylize_batch returned {got} for a uint8 {inp.shape} frame: it "
                               "must return H×W×3 uint8 RGB frames of the input's shape")
        # The encode thread reads the frame later: never keep a view of a reused buffer.
        checked.append(out if out.flags.owndata else out.copy())
    return checked


def stylize_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    stylize_batch: StylizeBatch,
    *,
    batch_size: int = 8,
    size: int | None = None,
    codec: str = "libx264",
    crf: int | None = 18,
    preset: str | None = None,
    pix_fmt: str | None = None,
    temporal: TemporalBlend | None = None,
    resume: bool = False,
    progress: bool = True,
    segment_frames: int = 600,
    measure_flicker: bool = False,
    resume_key: str = "",
    allow_truncated: bool = False,
) -> VideoReport:
    """Stylise every frame of ``src`` with ``stylize_batch`` and write ``dst``.

    Kept from the source: frame count, frame rate and timestamps (variable frame rate too),
    duration, audio (copied where the container allows, else transcoded), rotation, colour
    range and colour tags. Odd sizes are kept where the codec can code them (see
    :func:`choose_pix_fmt`); where a 4:2:0 format forces even sizes the frames are padded by one
    row/column and a warning says so. A source that decodes to fewer frames than its header lists
    (a truncated file) is an error unless ``allow_truncated``, which writes the decoded frames
    with a warning.

    Args:
        src: Source video; never modified.
        dst: Output video (suffix picks the container: .mp4, .mkv, .webm, .mov).
        stylize_batch: Stylises a list of H×W×3 uint8 RGB frames, returning them in order.
        batch_size: Frames per ``stylize_batch`` call.
        size: Target display height in pixels (e.g. 720), aspect kept; ``None``: source size.
        codec: Video encoder: libx264 (default), libx265, libvpx-vp9, libsvtav1, h264_nvenc.
        crf: Constant quality (lower is better); ``None`` for the encoder's default.
        preset: Encoder speed preset (e.g. ``"veryfast"``); ``None`` for its default.
        pix_fmt: Encoded pixel format; ``None`` picks one (:func:`choose_pix_fmt`);
            ``"yuv444p"`` keeps odd sizes exact with libx264.
        temporal: Motion-aware temporal blend against flicker; ``None`` for none.
        resume: Continue an interrupted run from its finished segments.
        progress: Show a progress bar (frames, frames/s, ETA) on standard error.
        segment_frames: Frames per segment, the unit of work kept on interruption.
        measure_flicker: Compute the flicker metric of the stylised frames.
        resume_key: Anything else that must match for a resume (e.g. the model's file).
        allow_truncated: Write what decodes from a truncated source (warning with the counts)
            instead of raising :class:`InvalidVideoError`.

    Returns:
        What was done.

    Raises:
        InvalidVideoError: ``src`` is not a readable video, has no frames, or is truncated
            (without ``allow_truncated``; the decoded frames are kept for ``resume=True``).
        ConfigError: Bad argument, ``dst`` is ``src``, or unfinished parts without ``resume``.
        BackendError: ``stylize_batch`` broke its contract or failed.
        DependencyError: PyAV is missing (``pip install 'restyle[video]'``).
        KeyboardInterrupt: Interrupted; finished segments are kept for ``resume=True``.

    Example:
        >>> from restyle.video import stylize_video
        >>> invert = lambda frames: [255 - f for f in frames]
        >>> report = stylize_video("in.mp4", "out.mp4", invert)  # doctest: +SKIP
        >>> report.frames  # doctest: +SKIP
        48
    """
    require("av")
    src_path, dst_path = Path(src), Path(dst)
    if batch_size < 1 or segment_frames < 1:
        raise ConfigError("batch_size and segment_frames must be at least 1")
    if size is not None and size < 2:
        raise ConfigError(f"size {size} is too small: give a height such as 720")
    if _same_file(src_path, dst_path):
        raise ConfigError(f"output {dst_path} is the input: the input is never overwritten; "
                          "choose another output path")
    info = probe_video(src_path)
    remove_stale_temps(dst_path.parent)  # a killed run's half-joined output
    width, height = output_size(info, size)
    pix_fmt = pix_fmt or choose_pix_fmt(info, codec, width, height)
    settings = EncodeSettings(
        codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, width=width, height=height,
        fps=info.fps, time_base=info.time_base, rotation=info.rotation,
        color_range=info.color_range, colorspace=info.colorspace,
        color_primaries=info.color_primaries, color_trc=info.color_trc,
        sample_aspect_ratio=info.sample_aspect_ratio,
    )
    settings.check()
    if settings.encoded_size != (width, height):
        enc_w, enc_h = settings.encoded_size
        log.warning("%s: %dx%d frames are padded to %dx%d (%s with %s needs even sizes); pass "
                    "--pix-fmt yuv444p (pix_fmt=\"yuv444p\") or --codec libvpx-vp9 to keep "
                    "the size", src_path.name, width, height, enc_w, enc_h, pix_fmt, codec)
    job = {"source": source_identity(src_path), "encode": settings.as_dict(),
           "temporal": asdict(temporal) if temporal else None, "key": resume_key}
    store = PartsStore(dst_path, job=job, resume=resume)
    start = store.done
    blender = TemporalBlender(temporal, state=store.temporal_state()) if temporal else None
    meter = FlickerMeter() if measure_flicker else None
    began = time.monotonic()
    try:
        if start < info.frame_count:
            with Progress(info.frame_count, desc=src_path.name, unit="frames",
                          enabled=progress, initial=start) as bar:
                _run(info, (width, height), start, stylize_batch, batch_size, blender, meter,
                     settings, store, segment_frames, bar)
    except BaseException:
        if not store.segments:  # nothing finished: nothing to resume
            store.remove()
        raise
    seconds = time.monotonic() - began
    if store.segments and store.done < info.frame_count:
        what = (f"{src_path} is truncated or damaged: its header lists {info.frame_count} "
                f"frames, {store.done} could be decoded")
        if not allow_truncated:
            raise InvalidVideoError(
                f"{what}; the decoded frames are kept in {store.dir}: run again with --resume "
                "--allow-truncated (resume=True, allow_truncated=True) to write them, or repair "
                "the source with ffmpeg")
        log.warning("%s: writing the %d decoded frames (allow_truncated)", what, store.done)
    if not store.segments:
        store.remove()
        raise InvalidVideoError(f"{src_path} yielded no video frames: pass a non-empty video")
    with atomic_output(dst_path) as tmp:
        audio = assemble(store.paths, src_path, tmp)
    frames = store.done
    try:
        store.remove()
    except OSError as exc:  # the output is complete; only the clean-up failed
        log.warning("could not remove %s (%s): delete it by hand", store.dir, exc)
    enc_w, enc_h = settings.encoded_size
    return VideoReport(
        src=src_path, dst=dst_path, frames=frames, resumed_from=start, width=enc_w,
        height=enc_h, frame_rate=info.fps, seconds=seconds,
        fps=(frames - start) / seconds if seconds > 0 else 0.0,
        codec=codec, audio=tuple(audio), flicker=meter.value if meter else None,
    )


def _run(
    info: VideoInfo,
    size: tuple[int, int],
    start: int,
    stylize_batch: StylizeBatch,
    batch_size: int,
    blender: TemporalBlender | None,
    meter: FlickerMeter | None,
    settings: EncodeSettings,
    store: PartsStore,
    segment_frames: int,
    bar: Progress,
) -> None:
    def on_segment(path: Path, first: int, frames: int, last: Frame) -> None:
        state = (last.source, last.image) if blender and last.source is not None else None
        store.add(path, first, frames, state=state)

    depth = max(4, 2 * batch_size)
    encoder = EncoderThread(settings, next_path=store.next_path, on_segment=on_segment,
                            segment_frames=segment_frames, on_frame=bar.update, max_queue=depth)
    try:
        reader = FrameReader(info, size=size, start=start, max_queue=depth)
    except BaseException:
        encoder.abort()
        raise
    try:
        ended = False
        while not ended:
            batch: list[Frame] = []
            while len(batch) < batch_size:
                frame = reader.get()
                if frame is None:
                    ended = True
                    break
                batch.append(frame)
            if not batch:
                break
            images = [f.image for f in batch]
            outputs = _checked(stylize_batch(images), images)
            for f, out in zip(batch, outputs, strict=True):
                if blender is not None:
                    out = blender.apply(f.image, out)
                if meter is not None:
                    meter.update(f.image, out)
                encoder.put(Frame(index=f.index, pts=f.pts, duration=f.duration, image=out,
                                  source=f.image if blender is not None else None))
        reader.close()
        encoder.finish()
    except BaseException as exc:
        try:
            reader.close()
        finally:  # even on a second Ctrl-C: the encode thread is always joined
            _keep_finished(encoder, store, interrupted=isinstance(exc, KeyboardInterrupt))
        raise


def _keep_finished(encoder: EncoderThread, store: PartsStore, *, interrupted: bool) -> None:
    """After a failure or Ctrl-C: encode what is already stylised and keep it for a resume."""
    try:
        encoder.finish()
    except KeyboardInterrupt:  # a second Ctrl-C: stop now, keep only finished segments
        encoder.abort()
    except Exception:
        log.debug("the encode thread failed while keeping the finished part", exc_info=True)
    if store.done:
        what = "interrupted" if interrupted else "stopped by an error"
        log.warning("%s: %d frames finished and kept in %s; run again with --resume "
                    "(resume=True) to continue", what, store.done, store.dir)
