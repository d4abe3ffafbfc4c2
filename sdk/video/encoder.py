"""The encode thread: frames from a bounded queue into segment files, one after another.

A finished segment is reported through ``on_segment`` (the caller records it in the resume
manifest); on :meth:`EncoderThread.finish` the open segment is completed, so stopping early
(Ctrl-C, an error upstream) keeps every frame already stylised. An error on the thread is raised
in the caller by the next :meth:`EncoderThread.put` or by :meth:`EncoderThread.finish`. The thread
and its queue are a :class:`~restyle.workers.Consumer`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from restyle.video.reader import Frame
from restyle.video.writer import EncodeSettings, SegmentWriter
from restyle.workers import Consumer

__all__ = ["EncoderThread"]

log = logging.getLogger("restyle.video")


class EncoderThread(Consumer[Frame]):
    """Encode frames from a bounded queue on a background thread, segment by segment.

    :meth:`put` queues a frame (raising the encode thread's error if it failed), :meth:`finish`
    completes the open segment and joins, :meth:`abort` deletes the open segment.

    Args:
        settings: Encoding settings.
        next_path: Gives the file of the next segment.
        on_segment: Called on the encode thread with (path, first frame, frame count, last
            frame) after each segment file is complete.
        segment_frames: Frames per segment (the last one of a run may be shorter).
        on_frame: Called after each encoded frame (progress).
        max_queue: Frames waiting to be encoded at most.
    """

    def __init__(
        self,
        settings: EncodeSettings,
        *,
        next_path: Callable[[], Path],
        on_segment: Callable[[Path, int, int, Frame], None],
        segment_frames: int,
        on_frame: Callable[[], None] | None = None,
        max_queue: int = 16,
    ) -> None:
        self.settings = settings
        self._next_path = next_path
        self._on_segment = on_segment
        self._segment_frames = segment_frames
        self._on_frame = on_frame or (lambda: None)
        # The first segment opens here, so a bad codec/container fails before any stylising.
        self._segment: SegmentWriter | None = SegmentWriter(next_path(), settings)
        self._first: int | None = None
        self._last: Frame | None = None
        super().__init__(self._write, on_end=self._complete, on_stop=self._discard,
                         depth=max_queue, name="restyle-encode")

    def abort(self) -> None:
        """Stop now: the open segment is deleted (finished segments are kept)."""
        self.close()

    def _write(self, frame: Frame) -> None:
        if self._segment is None:
            self._segment = SegmentWriter(self._next_path(), self.settings)
        if self._first is None:
            self._first = frame.index
        self._segment.write(frame)
        self._last = frame
        self._on_frame()
        if self._segment.frames >= self._segment_frames:
            self._close_segment()

    def _complete(self) -> None:
        """After the last frame: keep the open segment if it has frames."""
        if self._segment is not None and self._segment.frames:
            self._close_segment()
        self._discard()

    def _discard(self) -> None:
        """Delete the open (unfinished) segment, if any."""
        segment, self._segment = self._segment, None
        if segment is not None:
            try:
                segment.abort()
            except Exception:
                log.exception("could not remove the unfinished segment %s", segment.path)

    def _close_segment(self) -> None:
        segment, first, last = self._segment, self._first, self._last
        if segment is None or first is None or last is None:
            return
        segment.finish()
        self._segment, self._first = None, None
        self._on_segment(segment.path, first, segment.frames, last)
