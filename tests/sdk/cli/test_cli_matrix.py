"""``restyle stylize`` over a folder of every awkward input this project can make: sizes from
1×1 to 5000×3, every PIL mode that can be saved, 16-bit, animated, EXIF-rotated, broken files and
names that repeat in sub-folders. It runs as a user runs it (a subprocess) and must show no
traceback, write every good file, name every bad one in its summary and exit 1 as documented
(0: all written; 1: some inputs failed, each named; 2: usage error). The API half covers every PIL
mode Pillow can hold in memory, including those no file format stores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle import Stylizer
from restyle.errors import InvalidImageError
from restyle.images import load_image

SIZES = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (4, 4), (5, 5), (7, 3), (16, 1), (1, 16),
         (33, 17), (5000, 3), (3, 5000)]

#: (mode, file suffix that stores it)
MODES = [("1", ".png"), ("L", ".png"), ("P", ".png"), ("RGB", ".png"), ("RGBA", ".png"),
         ("LA", ".png"), ("I;16", ".png"), ("I;16B", ".tif"), ("I", ".tif"), ("F", ".tif"),
         ("CMYK", ".jpg"), ("CMYK", ".tif"), ("YCbCr", ".jpg"), ("LAB", ".tif"),
         ("PA", ".tif"), ("RGBX", ".tif"), ("HSV", ".webp"), ("RGB", ".bmp"), ("L", ".pgm"),
         ("RGB", ".ppm"), ("RGBA", ".tga"), ("RGBA", ".webp"), ("RGB", ".gif")]


def _pattern(h: int, w: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1),
                     rng.integers(0, 256, (h, w))], axis=2)
    return base.astype(np.uint8)


def _in_mode(rgb: np.ndarray, mode: str) -> Image.Image:
    img = Image.fromarray(rgb)
    if mode in ("I;16", "I;16B"):
        wide = (rgb[..., 0].astype(np.uint16) * 257).astype(">u2" if mode == "I;16B" else "<u2")
        return Image.frombytes(mode, img.size, wide.tobytes())
    if mode == "I":
        return Image.fromarray(rgb[..., 0].astype(np.int32))  # 0–255 held in 32 bits
    if mode == "F":
        return Image.fromarray(rgb[..., 0].astype(np.float32) / 255.0)  # 0–1 floats
    if mode in ("LA", "PA", "RGBA"):
        alpha = Image.fromarray(rgb[..., 2])
        base = img.convert("L" if mode == "LA" else ("P" if mode == "PA" else "RGB"))
        out = base.convert(mode) if mode != "PA" else base.convert("PA")
        out.putalpha(alpha)
        return out
    return img.convert(mode)


def _build(root: Path) -> tuple[set[str], set[str]]:
    """The awkward folder; returns (good, bad) paths relative to ``root``."""
    good: set[str] = set()
    bad: set[str] = set()
    for k, (h, w) in enumerate(SIZES):
        name = f"sizes/{h}x{w}.png"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_pattern(h, w, k)).save(root / name)
        good.add(name)
    for k, (mode, suffix) in enumerate(MODES):
        name = f"modes/{mode.replace(';', '_')}{suffix}"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        _in_mode(_pattern(24, 31, 100 + k), mode).save(root / name)
        good.add(name)
    # Names that repeat: same file name in two sub-folders, same stem with two suffixes.
    for name in ("dup/a/x.png", "dup/b/x.png", "dup/a/y.png", "dup/a/y.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_pattern(20, 30, len(good))).save(root / name)
        good.add(name)
    frames = [Image.fromarray(_pattern(12, 12, s)) for s in range(3)]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:])
    good.add("animated.gif")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°: stored 20×40, shown 40×20
    Image.fromarray(_pattern(20, 40, 7)).save(root / "rotated.jpg", exif=exif)
    good.add("rotated.jpg")
    (root / "broken").mkdir()
    whole = root / "sizes" / "33x17.png"
    (root / "broken" / "truncated.png").write_bytes(whole.read_bytes()[:200])
    (root / "broken" / "text.jpg").write_text("not an image at all")
    (root / "broken" / "empty.png").write_bytes(b"")
    (root / "broken" / "header_only.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    bad |= {"broken/truncated.png", "broken/text.jpg", "broken/empty.png",
            "broken/header_only.tif"}
    (root / ".hidden.png").write_bytes(b"")  # hidden: not an input
    return good, bad


def test_cli_over_every_awkward_input(tiny_model: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    good, bad = _build(src)
    cmd = [sys.executable, "-m", "restyle", "stylize", str(tiny_model), str(src), "-o",
           str(out), "--backend", "ort_cpu", "--batch-size", "4", "--no-progress"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode == 1, run.stderr  # documented: some inputs failed
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == good
    summary = run.stdout
    assert f"{len(good)} written, 0 skipped (already done), {len(bad)} failed" in summary
    for name in bad:
        assert f"failed: {src / name}: " in summary, name
    for name in good:
        source, result = load_image(src / name), load_image(out / name)
        assert result.size == source.size, name  # every size kept, rotation applied
    assert load_image(out / "modes/RGBA.png").mode == "RGBA"  # alpha kept
    assert load_image(out / "modes/CMYK.tif").mode == "CMYK"
    # I (0–255 in 32 bits) and F (0–1) are read by their range: the output is not near-black.
    for name in ("modes/I.tif", "modes/F.tif"):
        assert np.asarray(load_image(out / name)).mean() > 40, name

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert f"0 written, {len(good)} skipped (already done), {len(bad)} failed" in again.stdout
    assert not [p for p in out.rglob(".*")]  # no temporary file left behind


# Every mode Pillow can hold in memory (some no file format stores).
MEMORY_MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16",
                "I;16B", "I;16L", "I;16N", "F", "LA", "La", "PA", "RGBX", "RGBa"]


@pytest.mark.parametrize("mode", MEMORY_MODES)
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (40, 7)])
def test_every_pil_mode_and_size_stylises_or_names_the_problem(tiny_model: Path, mode: str,
                                                               size: tuple[int, int]) -> None:
    img = Image.new(mode, size)
    with Stylizer(tiny_model, backend="ort_cpu") as st:
        try:
            out = st(img)
        except InvalidImageError as exc:  # acceptable only with a message naming the mode
            assert mode in str(exc)
            return
    assert out.size == size
    assert out.mode in ("RGB", "RGBA", "CMYK")
    if mode in ("RGBA", "LA", "La", "PA", "RGBa"):
        assert out.mode == "RGBA"
