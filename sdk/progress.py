"""A small progress bar for long work: count, rate and ETA on standard error.

On a terminal it redraws one line; elsewhere (CI, logs) it writes a line at most every
``log_interval`` seconds, so a log shows progress without a flood.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """Format seconds as ``H:MM:SS`` or ``M:SS``; unknown as ``?``."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN or unknown
        return "?"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Progress of ``total`` units of work (``None`` when unknown).

    Example:
        >>> with Progress(total=3, desc="frames", enabled=False) as bar:
        ...     for _ in range(3):
        ...         bar.update(1)
        >>> bar.done
        3
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str = "",
        unit: str = "it",
        enabled: bool = True,
        stream: TextIO | None = None,
        log_interval: float = 10.0,
        initial: int = 0,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = 0.1 if self._tty else log_interval
        self.done = initial
        self._initial = initial
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn: tuple[int, str] | None = None
        self._postfix = ""
        self._closed = False

    @property
    def rate(self) -> float:
        """Units per second since the bar started (work done before a resume not counted)."""
        elapsed = time.monotonic() - self._start
        return (self.done - self._initial) / elapsed if elapsed > 0 else 0.0

    def set_postfix(self, text: str) -> None:
        """Extra text shown after the rate, e.g. loss values."""
        self._postfix = text

    def update(self, n: int = 1) -> None:
        """Record ``n`` more units of finished work and redraw when due."""
        self.done += n
        now = time.monotonic()
        if now - self._last_draw >= self._interval or (self.total and self.done >= self.total):
            self._draw(now)

    def line(self) -> str:
        """The text of the bar as it would be drawn now."""
        rate = self.rate
        parts = [self.desc] if self.desc else []
        if self.total:
            frac = min(1.0, self.done / self.total)
            width = 24
            filled = int(frac * width)
            parts.append(f"{frac * 100:3.0f}% |{'█' * filled}{' ' * (width - filled)}|")
            parts.append(f"{self.done}/{self.total}")
            remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
            eta = format_duration(remaining)
        else:
            parts.append(f"{self.done}")
            eta = ""
        parts.append(f"[{format_duration(time.monotonic() - self._start)}<{eta or '?'}, "
                     f"{rate:.2f} {self.unit}/s]")
        if self._postfix:
            parts.append(self._postfix)
        return " ".join(parts)

    def _draw(self, now: float) -> None:
        if not self.enabled:
            return
        self._last_draw = now
        self._drawn = (self.done, self._postfix)
        end = "\r" if self._tty else "\n"
        self._stream.write(self.line() + end)
        self._stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self._drawn != (self.done, self._postfix):
            self._stream.write(self.line() + "\n")
        elif self._tty:
            self._stream.write("\n")  # end the redrawn line
        self._stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
