"""The decode thread: frames of a video as RGB arrays with their timestamps, in order.

:class:`FrameReader` (a :class:`~restyle.workers.Producer`) decodes on its own thread (PyAV
releases the GIL while FFmpeg decodes and converts) into a bounded queue, so decoding overlaps the
stylisation of earlier frames and memory stays bounded. A decoding error reaches the consumer as
an exception from :meth:`FrameReader.get`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from restyle._optional import require
from restyle.errors import InvalidVideoError
from restyle.video.probe import VideoInfo, open_input
from restyle.workers import Producer

__all__ = ["Frame", "FrameReader", "sws_colorspace"]

log = logging.getLogger("restyle.video")

# FFmpeg AVColorSpace → swscale SWS_CS_* (unspecified and unknown: swscale's default, BT.601).
_SWS_CS = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}


def sws_colorspace(avcol_spc: int) -> int | None:
    """The swscale colour-matrix constant for an ``AVColorSpace``; ``None`` means the default."""
    return _SWS_CS.get(avcol_spc)


@dataclass(frozen=True)
class Frame:
    """One frame on its way through the pipeline.

    Attributes:
        index: Position in the source (0-based, decode order = presentation order).
        pts: Presentation timestamp in the source stream's time base.
        duration: Frame duration in that time base (0 when unknown).
        image: H×W×3 uint8 RGB.
        source: The input frame ``image`` was made from (kept only where still needed).
    """

    index: int
    pts: int
    duration: int
    image: np.ndarray
    source: np.ndarray | None = None


class FrameReader(Producer[Frame]):
    """Decode ``info.path`` on a background thread into a bounded queue of :class:`Frame`.

    Args:
        info: The probed source.
        size: (width, height) to scale to, or ``None`` for the coded size.
        start: Index of the first frame to deliver (earlier frames are decoded and dropped).
        max_queue: Frames decoded ahead at most.

    :meth:`get` returns the next frame (None at the end) and raises
    :class:`~restyle.errors.InvalidVideoError` when the source cannot be decoded; :meth:`close`
    stops decoding and joins the thread.

    Example:
        >>> import tempfile
        >>> from restyle.video.probe import probe_video
        >>> from restyle.video.synthetic import write_clip
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     clip = write_clip(f"{tmp}/clip.mp4", width=64, height=48, frames=5)
        ...     with FrameReader(probe_video(clip), start=2) as reader:
        ...         [(f.index, f.image.shape) for f in reader]
        [(2, (48, 64, 3)), (3, (48, 64, 3)), (4, (48, 64, 3))]
    """

    def __init__(
        self,
        info: VideoInfo,
        *,
        size: tuple[int, int] | None = None,
        start: int = 0,
        max_queue: int = 16,
    ) -> None:
        require("av")
        self.info = info
        self.size = size
        self.start = start
        super().__init__(self._decode, depth=max_queue, name="restyle-decode")

    def _decode(self) -> Iterator[Frame]:
        av = require("av")
        info = self.info
        path: Path = info.path
        width, height = self.size or (info.width, info.height)
        cs = sws_colorspace(info.colorspace)
        frame_step = 1 / (info.fps * info.time_base) if info.fps else Fraction(1)
        index = 0
        last_pts: int | None = None
        with open_input(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    pts = frame.pts if frame.pts is not None else round(index * frame_step)
                    if last_pts is not None and pts <= last_pts:
                        log.debug("frame %d: timestamp %d not after %d; moved", index, pts,
                                  last_pts)
                        pts = last_pts + 1
                    last_pts = pts
                    if index >= self.start:
                        image = frame.to_ndarray(
                            format="rgb24", width=width, height=height,
                            src_colorspace=cs, src_color_range=frame.color_range,
                            interpolation="BICUBIC",
                        )
                        yield Frame(index=index, pts=pts, duration=int(frame.duration or 0),
                                    image=image)
                    index += 1
            except av.error.FFmpegError as exc:
                raise InvalidVideoError(
                    f"{path}: decoding failed at frame {index} ({exc.strerror or exc}): the file "
                    "is corrupt or truncated; re-export it or repair it with ffmpeg"
                ) from exc
        if index < self.start:
            raise InvalidVideoError(
                f"{path} has {index} frames, fewer than the {self.start} already done: the "
                "source changed since the interrupted run; start again without --resume"
            )
