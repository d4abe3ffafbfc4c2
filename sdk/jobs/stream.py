"""The stream job: an iterable of frames stylised lazily, in order, with bounded memory.

Frames are read and prepared in a worker thread while earlier batches run. Nothing finished is
lost to an error: when the caller's iterable raises midway, every frame read before it is still
stylised and delivered, in order, and then the iterable's exception is raised; an unusable frame
raises at its own position, after the frames before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from restyle.batching import BatchRunner, Prefetcher, Window, windows
from restyle.images import ImageInput
from restyle.jobs.folder import finish

__all__ = ["stream"]


class _Source:
    """The caller's frames, ending early (and remembering why) when the iterable raises."""

    def __init__(self, frames: Iterable[ImageInput]) -> None:
        self._frames = frames
        self.error: Exception | None = None

    def __iter__(self) -> Iterator[ImageInput]:
        it = iter(self._frames)
        while True:
            try:
                frame = next(it)
            except StopIteration:
                return
            except Exception as exc:  # raised to the caller after the frames before it
                self.error = exc
                return
            yield frame


def stream(runner: BatchRunner, frames: Iterable[ImageInput], *, prefetch: int, strength: float,
           preserve_color: bool) -> Iterator[Any]:
    """Stylised ``frames`` in order (see the module's rules); ``strength`` is checked already.

    Raises:
        InvalidImageError: At the position of an unusable frame.
        Exception: Whatever ``frames`` raised, after every frame before it.
    """
    source = _Source(frames)

    def build(chunk: list[ImageInput]) -> Window:
        return runner.window(list(enumerate(chunk)), raise_errors=False)

    with Prefetcher(windows(source, runner.batch_size), build, depth=prefetch,
                    name="restyle-stream") as pre:
        for item in runner.run(pre):
            if item.error is not None:
                raise item.error
            yield finish(item, strength, preserve_color)
    if source.error is not None:
        raise source.error
