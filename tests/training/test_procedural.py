"""The drawn style images: deterministic, of the asked size, and what the offline losses need
(middle brightness, high contrast: dark or flat style images teach a generator to darken)."""

from __future__ import annotations

import numpy as np
import pytest

from restyle.errors import ConfigError
from restyle.training.procedural import DRAWINGS, draw_style


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_every_drawing_is_deterministic_mid_bright_and_contrasty(name: str) -> None:
    a = np.asarray(draw_style(name, seed=7, size=160))
    assert a.shape == (160, 160, 3)
    assert np.array_equal(a, np.asarray(draw_style(name, seed=7, size=160)))
    assert not np.array_equal(a, np.asarray(draw_style(name, seed=8, size=160)))
    luma = a.astype(float) @ [0.299, 0.587, 0.114]
    assert 80 < luma.mean() < 190, luma.mean()
    assert np.percentile(luma, 90) - np.percentile(luma, 10) > 80


def test_an_unknown_drawing_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="brushwork"):
        draw_style("no-such-drawing")
