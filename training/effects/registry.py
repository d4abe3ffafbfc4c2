"""The effects by name, and one checked entry point to render them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from restyle.errors import ConfigError
from restyle.training.effects.drawing import ink, pencil, woodcut
from restyle.training.effects.light import neon, relief
from restyle.training.effects.paint import cartoon, oil, posterize, toon

__all__ = ["EFFECTS", "Effect", "render_effect"]

Effect = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]

EFFECTS: dict[str, Effect] = {
    "cartoon": cartoon, "ink": ink, "neon": neon, "oil": oil, "pencil": pencil,
    "posterize": posterize, "relief": relief, "toon": toon, "woodcut": woodcut,
}


def render_effect(name: str, photo: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Render the effect ``name`` (one of :data:`EFFECTS`) on an HxWx3 uint8 photo.

    Raises:
        ConfigError: Unknown effect or not an HxWx3 uint8 array.
    """
    try:
        effect = EFFECTS[name]
    except KeyError:
        raise ConfigError(f"no effect {name!r}: choose one of {', '.join(sorted(EFFECTS))}"
                          ) from None
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ConfigError(f"effects take HxWx3 uint8 RGB arrays, got {photo.dtype} "
                          f"{photo.shape}: convert the image to RGB first")
    return effect(photo)
