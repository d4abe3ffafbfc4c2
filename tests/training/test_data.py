"""Image loading for training: every PIL mode, bad files, content folders."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle.errors import InvalidImageError, TrainingError
from restyle.training.data import (
    BUILTIN_PHOTOS,
    DEFAULT_MAX_STYLE_SIDE,
    HELD_OUT_PHOTOS,
    MIN_STYLE_SIDE,
    builtin_content,
    folder_content,
    load_rgb,
    load_style_image,
)


def test_missing_style_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidImageError, match="does not exist"):
        load_style_image(tmp_path / "nope.png", short_side=64)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "art.jpg"
    path.write_text("not an image at all")
    with pytest.raises(InvalidImageError, match=r"art\.jpg.*not an image file"):
        load_style_image(path, short_side=64)


@pytest.mark.parametrize("side", [1, MIN_STYLE_SIDE - 1])
def test_tiny_style_image(tmp_path: Path, side: int) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", (side, side), (255, 0, 0)).save(path)
    with pytest.raises(TrainingError, match=f"at least {MIN_STYLE_SIDE}×{MIN_STYLE_SIDE}"):
        load_style_image(path, short_side=64)


def test_grayscale(tmp_path: Path) -> None:
    path = tmp_path / "g.png"
    Image.new("L", (40, 40), 128).save(path)
    rgb = load_rgb(path)
    assert rgb.shape == (40, 40, 3)
    np.testing.assert_allclose(rgb, 128 / 255, atol=1e-6)


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    img = np.zeros((40, 40, 4), dtype=np.uint8)
    img[..., 0] = 255          # red …
    img[:20, :, 3] = 255       # … opaque in the top half, transparent below
    Image.fromarray(img, mode="RGBA").save(path)
    rgb = load_rgb(path)
    np.testing.assert_allclose(rgb[0, 0], (1, 0, 0))
    np.testing.assert_allclose(rgb[-1, -1], (1, 1, 1))


def test_16_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    ramp = np.linspace(0, 65535, 48 * 48).reshape(48, 48).astype(np.uint16)
    Image.fromarray(ramp).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    rgb = load_rgb(path)
    assert rgb.min() == 0.0 and rgb.max() == pytest.approx(1.0)
    assert rgb[24, 24, 0] == pytest.approx(ramp[24, 24] / 65535, abs=0.5 / 255)
    assert len(np.unique(rgb[..., 0])) == 256  # every 8-bit level used: scaled, not clipped


@pytest.mark.parametrize(("mode", "values", "expected"), [
    ("I;16", np.array([[0, 65535]]), [0, 255]),
    ("I", np.array([[0, 255]]), [0, 255]),          # 8-bit values in a 32-bit mode
    ("I", np.array([[0, 65535]]), [0, 255]),        # 16-bit values
    ("F", np.array([[0.0, 1.0]]), [0, 255]),        # 0–1 floats
    ("F", np.array([[0.0, 255.0]]), [0, 255]),      # 0–255 floats
    ("RGBA", None, None),
])
def test_training_decodes_exactly_as_the_runtime(tmp_path: Path, mode: str,
                                                 values: np.ndarray | None,
                                                 expected: list[int] | None) -> None:
    from restyle.images import prepare

    if values is None:
        img = Image.new("RGBA", (2, 1), (200, 40, 10, 128))
    else:
        dtype = np.float32 if mode == "F" else (np.uint16 if mode == "I;16" else np.int32)
        img = Image.fromarray(values.astype(dtype))
        assert img.mode == mode
    path = tmp_path / "x.tif"
    img.save(path)
    runtime = prepare(path)
    rgb = load_rgb(path)
    if runtime.alpha is None:
        np.testing.assert_array_equal(np.rint(rgb * 255).astype(np.uint8), runtime.rgb)
        assert runtime.rgb[0, :, 0].tolist() == expected  # the range is measured, not assumed
    else:  # training composites the same pixels over white
        a = runtime.alpha[..., None] / 255.0
        np.testing.assert_allclose(rgb, runtime.rgb / 255.0 * a + (1 - a), atol=1e-6)


@pytest.mark.parametrize("mode", ["P", "CMYK", "LA", "1"])
def test_other_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    path = tmp_path / ("m.jpg" if mode == "CMYK" else "m.png")
    Image.new("RGB", (40, 40), (200, 30, 30)).convert(mode).save(path)
    rgb = load_rgb(path)
    assert rgb.shape == (40, 40, 3) and rgb.dtype == np.float32
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0


def test_style_image_is_resized_to_short_side(style_image: Path) -> None:
    t = load_style_image(style_image, short_side=48)
    assert tuple(t.shape) == (3, 48, 48)
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


@pytest.mark.parametrize(("side", "kept"), [(300, 300), (900, DEFAULT_MAX_STYLE_SIDE)])
def test_style_image_keeps_its_own_scale_by_default(tmp_path: Path, side: int, kept: int) -> None:
    """Without a style size the strokes stay the size they were drawn, up to the cap."""
    path = tmp_path / "art.png"
    Image.new("RGB", (side * 3 // 2, side), (10, 200, 30)).save(path)
    t = load_style_image(path)
    assert tuple(t.shape) == (3, kept, kept * 3 // 2)


def test_content_folder_recursive_and_skips_bad_files(
    content_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (content_dir / "broken.jpg").write_text("garbage")
    (content_dir / "notes.txt").write_text("ignored: not an image suffix")
    Image.new("RGB", (4, 4)).save(content_dir / "speck.png")
    with caplog.at_level(logging.WARNING, logger="restyle.training.data"):
        images = folder_content(content_dir, size=32)
    assert len(images) == 3
    assert any("skipped 2" in r.getMessage() for r in caplog.records)
    batch = images.sample(5, np.random.default_rng(0))
    assert tuple(batch.shape) == (5, 3, 32, 32)


def test_empty_content_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no readable content images"):
        folder_content(tmp_path / "empty", size=32)


def test_missing_content_folder(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="does not exist"):
        folder_content(tmp_path / "nowhere", size=32)


def test_sampling_is_reproducible(content_dir: Path) -> None:
    images = folder_content(content_dir, size=32)
    a = images.sample(4, np.random.default_rng(3))
    b = folder_content(content_dir, size=32).sample(4, np.random.default_rng(3))
    assert (a == b).all()


def test_builtin_photos() -> None:
    images = builtin_content(size=64)
    assert len(images) >= 5
    assert not set(BUILTIN_PHOTOS) & set(HELD_OUT_PHOTOS), "training on the photos that judge"
    assert tuple(images.fixed(2).shape) == (2, 3, 64, 64)
