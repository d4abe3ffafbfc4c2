"""Fixtures for training tests: procedurally drawn style images and tiny content folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a shared 2-core machine oversubscribed
    OpenMP threads make every step many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def voronoi(side: int, *, seed: int = 0, cells: int = 12) -> np.ndarray:
    """A vivid Voronoi mosaic with dark outlines, HxWx3 uint8."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, side, size=(cells, 2))
    palette = np.array([[230, 40, 50], [250, 200, 30], [30, 120, 220], [40, 180, 90],
                        [150, 50, 180], [20, 200, 200]], dtype=np.float32)
    colours = palette[rng.integers(len(palette), size=cells)]
    yy, xx = np.mgrid[0:side, 0:side]
    d = np.sqrt((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2)
    near = np.sort(d, axis=2)
    img = colours[np.argmin(d, axis=2)]
    img[(near[..., 1] - near[..., 0]) < 1.5] = (20, 20, 25)
    out: np.ndarray = img.astype(np.uint8)
    return out


@pytest.fixture
def mosaic() -> np.ndarray:
    """A 48-pixel Voronoi mosaic as an array."""
    return voronoi(48, seed=1)


@pytest.fixture
def style_image(tmp_path: Path) -> Path:
    path = tmp_path / "mosaic.png"
    Image.fromarray(voronoi(64)).save(path)
    return path


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """Three smooth 'photos' (gradients with a disc) in a nested folder."""
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    yy, xx = np.mgrid[0:72, 0:80].astype(np.float32)
    for i in range(3):
        img = np.stack([xx / 80 * 255, yy / 72 * 255, np.full_like(xx, 60 * i)], axis=2)
        disc = (yy - 36) ** 2 + (xx - 20 - 15 * i) ** 2 < 15**2
        img[disc] = (240, 240, 240)
        target = folder / ("nested" if i == 2 else "") / f"photo{i}.{('png', 'jpg', 'webp')[i]}"
        Image.fromarray(img.astype(np.uint8)).save(target)
    return folder
