"""The encode thread: frames from a bounded queue into segment files, one after another.

A finished segment is reported through ``on_segment`` (the caller records it in the resume
manifest); on :data:`~restyle.video.reader.END` the open segment is completed, so stopping early
(Ctrl-C, an error upstream) keeps every frame already stylised. An error on the thread is raised
in the caller by the next :meth:`EncoderThread.put` or by :meth:`EncoderThread.finish`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from restyle.errors import OutputError
from restyle.video.reader import END, Frame, _End
from restyle.video.writer import EncodeSettings, SegmentWriter

__all__ = ["EncoderThread"]

log = logging.getLogger("restyle.video")

_POLL = 0.1


class EncoderThread:
    """Encode frames from a bounded queue on a background thread, segment by segment.

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
        self._queue: queue.Queue[Frame | _End] = queue.Queue(maxsize=max_queue)
        self._abort = threading.Event()
        self.error: BaseException | None = None
        # The first segment opens here, so a bad codec/container fails before any stylising.
        self._segment: SegmentWriter | None = SegmentWriter(next_path(), settings)
        self._first: int | None = None
        self._thread = threading.Thread(target=self._run, name="restyle-encode", daemon=True)
        self._thread.start()

    def put(self, item: Frame | _End) -> None:
        """Queue a frame (or :data:`END`); raises the encode thread's error if it failed."""
        while True:
            if self.error is not None:
                raise self.error
            if not self._thread.is_alive():
                raise OutputError("the encode thread stopped unexpectedly")
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Encode what is queued, complete the open segment and join the thread.

        Raises:
            Exception: Whatever failed on the encode thread.
        """
        if self._thread.is_alive() and self.error is None:
            self.put(END)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        """Stop now: the open segment is deleted (finished segments are kept)."""
        self._abort.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=_POLL)
        self._thread.join()

    def __enter__(self) -> EncoderThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()

    def _run(self) -> None:
        last: Frame | None = None
        try:
            while not self._abort.is_set():
                try:
                    item = self._queue.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if isinstance(item, _End):
                    break
                if self._segment is None:
                    self._segment = SegmentWriter(self._next_path(), self.settings)
                if self._first is None:
                    self._first = item.index
                self._segment.write(item)
                last = item
                self._on_frame()
                if self._segment.frames >= self._segment_frames:
                    self._close_segment(last)
            if self._abort.is_set():
                if self._segment is not None:
                    self._segment.abort()
            elif self._segment is not None and self._segment.frames and last is not None:
                self._close_segment(last)
            elif self._segment is not None:
                self._segment.abort()
        except BaseException as exc:
            self.error = exc
            if self._segment is not None:
                try:
                    self._segment.abort()
                except Exception:
                    log.exception("could not remove the unfinished segment %s",
                                  self._segment.path)
        finally:
            self._segment = None

    def _close_segment(self, last: Frame) -> None:
        segment = self._segment
        first = self._first
        if segment is None or first is None:
            return
        segment.finish()
        self._segment, self._first = None, None
        self._on_segment(segment.path, first, segment.frames, last)
