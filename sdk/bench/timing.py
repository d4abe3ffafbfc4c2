"""Honest timing: warm-up first, synchronise before reading the clock, medians with spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Timing", "measure"]


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one call."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0–100), linear between samples."""
        ordered = sorted(self.samples)
        if len(ordered) == 1:
            return ordered[0]
        pos = (len(ordered) - 1) * q / 100.0
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median: 0.1 means ±5 % around it."""
        med = self.median
        return (self.percentile(75) - self.percentile(25)) / med if med > 0 else 0.0


def measure(
    fn: Callable[[], object],
    *,
    warmup: int = 2,
    repeat: int = 7,
    min_time: float = 0.0,
    synchronize: Callable[[], None] | None = None,
    timer: Callable[[Callable[[], object]], float] | None = None,
) -> Timing:
    """Time ``fn`` after ``warmup`` calls.

    Args:
        fn: The call to time; its result is discarded.
        warmup: Untimed calls first (allocations, autotuning, caches).
        repeat: Timed calls at least.
        min_time: Keep repeating until this many seconds were measured in total.
        synchronize: Called before each clock read (e.g. a CUDA stream synchronise).
        timer: Times one call itself and returns seconds (e.g. with CUDA events, which measure
            the device's work rather than the host's); replaces the wall clock.

    Returns:
        The samples.

    Example:
        >>> t = measure(lambda: sum(range(1000)), warmup=1, repeat=3)
        >>> len(t.samples) >= 3
        True
    """
    sync = synchronize or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    samples: list[float] = []
    total = 0.0
    while len(samples) < repeat or total < min_time:
        if timer is not None:
            elapsed = timer(fn)
        else:
            start = time.perf_counter()
            fn()
            sync()
            elapsed = time.perf_counter() - start
        samples.append(elapsed)
        total += elapsed
    return Timing(tuple(samples))
