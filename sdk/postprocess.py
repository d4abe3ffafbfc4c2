"""After the model: blend with the input (``strength``) and keep the input's colours
(``preserve_color``).

Both work on ``H×W×3`` uint8 RGB. Colour preservation swaps luminance into the input's chroma in
full-range BT.601 YCbCr (the JPEG transform): the result has the stylised image's light and shade
and the input's hues (Gatys et al., "Preserving Color in Neural Artistic Style Transfer", 2016).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from restyle.errors import ConfigError

__all__ = ["apply", "blend", "check_strength", "preserve_color", "rgb_to_ycbcr", "ycbcr_to_rgb"]

_TO_YCC = np.array([[0.299, 0.587, 0.114],
                    [-0.168736, -0.331264, 0.5],
                    [0.5, -0.418688, -0.081312]], dtype=np.float32)
_FROM_YCC = np.linalg.inv(_TO_YCC.astype(np.float64)).astype(np.float32)
_OFFSET = np.array([0.0, 128.0, 128.0], dtype=np.float32)


def check_strength(strength: float) -> float:
    """Return ``strength`` as a float, or raise :class:`ConfigError` if it is outside [0, 1]."""
    value = float(strength)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"strength={strength!r} is outside [0, 1]: 0 keeps the input, 1 is the "
                          "full style")
    return value


def rgb_to_ycbcr(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Full-range BT.601 YCbCr as float32 (Y in 0–255, Cb/Cr centred on 128)."""
    return rgb.astype(np.float32) @ _TO_YCC.T + _OFFSET


def ycbcr_to_rgb(ycc: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Inverse of :func:`rgb_to_ycbcr`, rounded and clipped to uint8."""
    rgb = (ycc - _OFFSET) @ _FROM_YCC.T
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def preserve_color(stylized: NDArray[np.uint8], original: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The stylised luminance with the original's chroma.

    Example:
        >>> a = np.full((1, 1, 3), (200, 40, 40), np.uint8)
        >>> b = np.full((1, 1, 3), 90, np.uint8)
        >>> preserve_color(b, a)[0, 0].tolist()
        [202, 42, 42]
    """
    ycc = rgb_to_ycbcr(original)
    ycc[..., 0] = rgb_to_ycbcr(stylized)[..., 0]
    return ycbcr_to_rgb(ycc)


def blend(stylized: NDArray[np.uint8], original: NDArray[np.uint8],
          strength: float) -> NDArray[np.uint8]:
    """``original + strength · (stylized − original)``, exact at 0 and 1."""
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return original.copy()
    o = original.astype(np.float32)
    mixed = o + np.float32(strength) * (stylized.astype(np.float32) - o)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def apply(stylized: NDArray[np.uint8], original: NDArray[np.uint8], *, strength: float = 1.0,
          keep_color: bool = False) -> NDArray[np.uint8]:
    """Colour preservation (if asked), then the blend with the input.

    Args:
        stylized: Model output, ``H×W×3`` uint8.
        original: Model input, same shape.
        strength: 0 returns the input, 1 the (colour-preserved) stylised image.
        keep_color: Keep the input's colours, restyle only its luminance.

    Returns:
        The final ``H×W×3`` uint8 image.
    """
    out = preserve_color(stylized, original) if keep_color else stylized
    return blend(out, original, strength)
