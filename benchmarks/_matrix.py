"""The benchmark matrix: full under ``RESTYLE_BENCH=full`` (``make bench``), else smoke."""

from __future__ import annotations

import os

FULL = os.environ.get("RESTYLE_BENCH") == "full"


def matrix(full: list[object], smoke: list[object]) -> list[object]:
    """The full parameter list under ``RESTYLE_BENCH=full``, else the smoke one."""
    return full if FULL else smoke


#: (height, width) cases.
RESOLUTIONS = matrix([(256, 256), (512, 512), (720, 1280), (1080, 1920)], [(64, 64)])
BATCHES = matrix([1, 4, 16], [1, 2])
