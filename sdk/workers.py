"""The one worker-thread-with-queue mechanism: a thread and the bounded queue shared with its owner.

Two directions, one implementation of the hard parts (a bounded queue whose ``put`` and ``get``
give up when the worker is stopped, errors raised in the owner's thread, ``close()`` that joins):

* :class:`Producer`: the thread produces (decodes a video, prepares frames), the owner iterates.
  An exception on the thread is raised by the owner's next ``get`` at its position; the end and
  an error are sticky.
* :class:`Consumer`: the owner puts, the thread consumes (encodes frames). An exception on the
  thread is raised by the owner's next ``put`` or by ``finish``.

Used by :class:`~restyle.batching.Prefetcher`, :class:`~restyle.video.reader.FrameReader` and
:class:`~restyle.video.encoder.EncoderThread`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["Consumer", "Producer"]

T = TypeVar("T")

_POLL = 0.1  # seconds between checks of the stop flag while the queue is full / empty


class _End:
    """Marks the end of the items in a queue."""


_END = _End()


class _Worker(Generic[T]):
    """A daemon thread running ``self._main`` and the bounded queue shared with the owner."""

    def __init__(self, *, depth: int, name: str) -> None:
        self._queue: queue.Queue[T | _End | BaseException] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _main(self) -> None:  # pragma: no cover - every worker defines its own
        raise NotImplementedError

    @property
    def stopped(self) -> bool:
        """Whether :meth:`close` was called (the thread checks it between items)."""
        return self._stop.is_set()

    def _put(self, entry: T | _End | BaseException) -> bool:
        """Queue ``entry``, waiting for room; False once the worker is stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _stop_thread(self, timeout: float | None) -> None:
        """Set the stop flag, empty the queue so a blocked ``put`` wakes, and join the thread."""
        self._stop.set()
        waited = 0.0
        while self._thread.is_alive() and (timeout is None or waited < timeout):
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=_POLL)
            waited += _POLL
        self._thread.join(0 if timeout is not None and waited >= timeout else None)


class Producer(_Worker[T]):
    """Iterates ``produce()`` on a worker thread, at most ``depth`` items ahead of the owner.

    Args:
        produce: Called on the thread; what it returns is iterated there (a generator is closed
            when the worker stops early, so its ``with`` blocks end).
        depth: Items produced ahead at most.
        name: The thread's name.

    Example:
        >>> with Producer(lambda: (x * x for x in range(4)), depth=2) as squares:
        ...     list(squares)
        [0, 1, 4, 9]
    """

    def __init__(self, produce: Callable[[], Iterable[T]], *, depth: int = 2,
                 name: str = "restyle-producer") -> None:
        super().__init__(depth=depth, name=name)
        self._produce = produce
        self._thread.start()

    def _main(self) -> None:
        try:
            items = iter(self._produce())
            try:
                for item in items:
                    if not self._put(item):
                        return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the owner, raised there
            self._put(exc)
            return
        self._put(_END)

    def get(self) -> T | None:
        """The next item, or None at the end (also on every later call).

        Raises:
            Exception: What the worker raised, at its position (and again on later calls).
        """
        entry = self._queue.get()
        if isinstance(entry, (_End, BaseException)):
            self._queue.put(entry)  # sticky: stays for later calls
            if isinstance(entry, BaseException):
                raise entry
            return None
        return entry

    def __iter__(self) -> Iterator[T]:
        while (item := self.get()) is not None:
            yield item

    def close(self, *, timeout: float | None = None) -> None:
        """Stop producing and join the thread (waiting at most ``timeout`` seconds, if given).

        A thread blocked inside ``produce`` (a camera waiting for a frame) cannot be interrupted;
        with a timeout it is left to end on its own (it is a daemon and holds nothing of ours).
        """
        self._stop_thread(timeout)

    def __enter__(self) -> Producer[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Consumer(_Worker[T]):
    """Hands each item the owner puts to ``consume`` on a worker thread.

    Args:
        consume: Called on the thread for each item, in order.
        on_end: Called on the thread after the last item, when the owner calls :meth:`finish`.
        on_stop: Called on the thread when it ends any other way (:meth:`close`, or an error in
            ``consume`` / ``on_end``): undo what is unfinished.
        depth: Items waiting at most (``put`` blocks beyond).
        name: The thread's name.

    Example:
        >>> seen = []
        >>> with Consumer(seen.append, on_end=lambda: seen.append("end")) as sink:
        ...     for x in range(3):
        ...         sink.put(x)
        ...     sink.finish()
        >>> seen
        [0, 1, 2, 'end']
    """

    def __init__(self, consume: Callable[[T], None], *, on_end: Callable[[], None] | None = None,
                 on_stop: Callable[[], None] | None = None, depth: int = 16,
                 name: str = "restyle-consumer") -> None:
        super().__init__(depth=depth, name=name)
        self._consume = consume
        self._on_end = on_end or (lambda: None)
        self._on_stop = on_stop or (lambda: None)
        self.error: BaseException | None = None
        self._thread.start()

    def _main(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    entry = self._queue.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if isinstance(entry, _End):
                    self._on_end()
                    return
                self._consume(entry)  # type: ignore[arg-type]  # owners put T or the end only
        except BaseException as exc:
            self.error = exc
        self._on_stop()

    def put(self, item: T) -> None:
        """Queue ``item``, waiting for room.

        Raises:
            Exception: What failed on the worker thread.
            RuntimeError: The worker was closed or has finished (a mistake of the owner's).
        """
        self._send(item)

    def _send(self, entry: T | _End) -> None:
        while True:
            if self.error is not None:
                raise self.error
            if not self._thread.is_alive() or self._stop.is_set():
                raise RuntimeError(f"the {self._thread.name} thread has stopped")
            try:
                self._queue.put(entry, timeout=_POLL)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Consume what is queued, run ``on_end`` and join the thread.

        Raises:
            Exception: What failed on the worker thread.
        """
        if self._thread.is_alive() and self.error is None and not self._stop.is_set():
            self._send(_END)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop now (``on_stop`` runs on the thread) and join; queued items are dropped."""
        self._stop_thread(None)

    def __enter__(self) -> Consumer[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
