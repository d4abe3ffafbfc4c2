"""Image conversion: every PIL mode, EXIF orientation, alpha, floats, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle.errors import InvalidImageError
from restyle.images import load_image, prepare, restore, save_image


def _gradient(h: int = 6, w: int = 8) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 30, y * 40, (x + y) * 15], axis=2).astype(np.uint8)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBX", "YCbCr", "HSV", "LAB", "CMYK"])
def test_pil_modes_become_rgb_like_pil_does(mode: str) -> None:
    img = Image.fromarray(_gradient()).convert(mode)
    p = prepare(img)
    assert p.rgb.shape == (6, 8, 3) and p.rgb.dtype == np.uint8 and p.alpha is None
    np.testing.assert_array_equal(p.rgb, np.asarray(img.convert("RGB")))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA", "RGBa", "La"])
def test_alpha_modes_keep_alpha(mode: str) -> None:
    rgba = np.dstack([_gradient(), np.linspace(0, 255, 48).reshape(6, 8).astype(np.uint8)])
    img = Image.fromarray(rgba).convert(mode)
    p = prepare(img)
    assert p.alpha is not None
    plain = img.convert("LA") if mode == "La" else img  # Pillow converts La only to LA
    np.testing.assert_array_equal(p.alpha, np.asarray(plain.convert("RGBA"))[..., 3])
    out = restore(p, 255 - p.rgb)
    assert isinstance(out, Image.Image) and out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., 3], p.alpha)


def test_palette_with_transparency_keeps_alpha() -> None:
    img = Image.fromarray(_gradient()).convert("P")
    img.info["transparency"] = int(np.asarray(img)[0, 0])
    p = prepare(img)
    assert p.alpha is not None and p.alpha[0, 0] == 0 and p.alpha.max() == 255


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    img = Image.fromarray(values)  # mode I;16
    assert img.mode.startswith("I;16")
    p = prepare(img)
    assert p.rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (p.rgb[..., 0] == p.rgb[..., 2]).all()


def test_cmyk_comes_back_cmyk_and_grey_comes_back_rgb() -> None:
    cmyk = Image.fromarray(_gradient()).convert("CMYK")
    out = restore(prepare(cmyk), prepare(cmyk).rgb)
    assert isinstance(out, Image.Image) and out.mode == "CMYK"
    grey = restore(prepare(Image.new("L", (3, 2), 90)), np.zeros((2, 3, 3), np.uint8))
    assert isinstance(grey, Image.Image) and grey.mode == "RGB" and grey.size == (3, 2)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.fromarray(_gradient(4, 10))  # 10 wide, 4 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=100)
    loaded = load_image(path)
    assert loaded.size == (4, 10)
    p = prepare(path)
    assert p.shape == (10, 4) and p.kind == "path"
    assert isinstance(restore(p, p.rgb), Image.Image)
    with Image.open(path) as opened:  # a PIL image straight from the file is turned upright too
        assert opened.size == (10, 4) and prepare(opened).shape == (10, 4)


def test_numpy_kinds_round_trip() -> None:
    rgb = _gradient()
    p = prepare(rgb)
    out = restore(p, p.rgb)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)

    grey = rgb[..., 0]
    assert restore(prepare(grey), prepare(grey).rgb).shape == (6, 8, 3)

    rgba = np.dstack([rgb, np.full((6, 8), 7, np.uint8)])
    out4 = restore(prepare(rgba), 255 - rgb)
    assert isinstance(out4, np.ndarray) and out4.shape == (6, 8, 4) and (out4[..., 3] == 7).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_float_in_float_out(dtype: type) -> None:
    f = (_gradient().astype(np.float64) / 255.0).astype(dtype)
    p = prepare(f)
    assert p.kind == "float"
    np.testing.assert_array_equal(p.rgb, _gradient())
    out = restore(p, p.rgb)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    np.testing.assert_allclose(out.astype(np.float64), f.astype(np.float64), atol=1e-3)


@pytest.mark.parametrize(("bad", "words"), [
    (np.zeros((4, 4, 3), np.float32) + 1.5, "outside [0, 1]"),
    (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
    (np.zeros((4, 4, 3), np.int64), "dtype int64"),
    (np.zeros((4, 4, 2), np.uint8), "shape (4, 4, 2)"),
    (np.zeros((2, 4, 4, 3), np.uint8), "shape (2, 4, 4, 3)"),
    (np.zeros((0, 4, 3), np.uint8), "empty"),
    (12, "int"),
])
def test_bad_arrays_name_the_problem(bad: object, words: str) -> None:
    with pytest.raises(InvalidImageError, match=None) as info:
        prepare(bad)  # type: ignore[arg-type]
    assert words in str(info.value)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.png")
    truncated.write_bytes((tmp_path / "full.png").read_bytes()[:2000])
    for path, words in [(text, "not an image"), (truncated, "corrupt"),
                        (tmp_path / "missing.jpg", "does not exist"), (tmp_path, "folder")]:
        with pytest.raises(InvalidImageError) as info:
            prepare(path)
        assert str(path) in str(info.value) and words in str(info.value)


def test_save_image_drops_alpha_for_jpeg(tmp_path: Path) -> None:
    img = Image.fromarray(np.dstack([_gradient(), np.full((6, 8), 100, np.uint8)]))
    save_image(img, tmp_path / "a.jpg")
    save_image(img, tmp_path / "a.png")
    assert load_image(tmp_path / "a.jpg").mode == "RGB"
    assert load_image(tmp_path / "a.png").mode == "RGBA"
