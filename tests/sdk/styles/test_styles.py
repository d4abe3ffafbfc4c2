"""The bundled styles: shipped inside the package, addressable by name, self-describing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from restyle import Stylizer, list_styles, read_model_info
from restyle.cli.main import main


def test_at_least_three_bundled_styles_with_attribution() -> None:
    styles = list_styles()
    assert len(styles) >= 3
    assert len(styles) == len({s.name for s in styles})
    for style in styles:
        assert style.path.stat().st_size <= 5 * 2**20, style.name
        info = read_model_info(style.name)
        assert info.style == style.name and info.io == "uint8_nhwc"
        assert info.description and info.attribution and info.license, style.name
        assert info.checkpoint_sha256, style.name


def test_restyle_styles_lists_name_then_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["styles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [s.name for s in list_styles()]
    assert [line.split()[0] for line in lines] == names
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_stylizer_takes_a_bundled_style_by_name() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    with Stylizer("psychedelic", backend="ort_cpu") as st:
        out = st(image)
        assert st.info.model is not None and st.info.model.style == "psychedelic"
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image.astype(int)).mean() > 10  # it does restyle


#: The least the painting lowers the texture statistic below the network alone's, per shape
#: style (measured on astronaut / coffee: mosaic 1.13 / 1.52 → 0.65 / 0.48; pointillism, whose
#: network alone already draws some dabs, 0.70 / 0.74 → 0.23 / 0.54).
SHAPE_STYLES = {"mosaic": 0.3, "pointillism": 0.1}


@pytest.mark.parametrize("name", sorted(SHAPE_STYLES))
def test_shape_styles_draw_their_shapes_on_photos_they_never_saw(name: str) -> None:
    """``mosaic`` and ``pointillism`` carry their style image's shapes: the Stylizer's output
    is the network's painted into them (split along the photo's edges), and that painting
    moves the texture statistic toward the style image while the photo's layout stays (edge
    correlation 0.59–0.80)."""
    pytest.importorskip("torch")
    import onnxruntime as ort
    from PIL import Image

    from restyle.samples import sample_photos
    from restyle.shapes import ShapePainter, read_shapes
    from restyle.styles import resolve_model
    from restyle.training.bundled import BUNDLED, SEED
    from restyle.training.procedural import draw_style
    from restyle.training.texture import content_correlation, texture_score

    recipe = next(r for r in BUNDLED if r.name == name)
    assert recipe.shapes
    path = resolve_model(name)
    shapes = read_shapes(path)
    assert shapes is not None and shapes.count > 50
    style = np.asarray(draw_style(recipe.image or name, seed=SEED))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with Stylizer(name, backend="ort_cpu") as st:
        assert st.info.shapes == shapes.count
        for photo_path in sample_photos():
            if photo_path.stem not in ("astronaut", "coffee"):
                continue
            photo = np.asarray(Image.open(photo_path).convert("RGB"))
            out = st(photo)
            network = session.run(None, {"image": photo[None]})[0][0]
            assert np.abs(out.astype(int) - ShapePainter(shapes).paint(network, guide=photo)
                          ).mean() < 1.0  # the Stylizer paints what the network drew
            painted = texture_score(photo, out, style).score
            assert painted < 0.8, (photo_path.stem, painted)
            alone = texture_score(photo, network, style).score
            assert alone > painted + SHAPE_STYLES[name], (photo_path.stem, alone, painted)
            assert content_correlation(photo, out) > 0.45, photo_path.stem


def test_bundled_ink_style_draws_lines_on_paper() -> None:
    """``ink`` is the realtime generator distilled from the XDoG effect (paired mode); on a photo
    it never saw (a dark disc on a light ground) it draws paper with an ink outline."""
    y, x = np.mgrid[0:128, 0:128]
    disc = ((x - 64) ** 2 + (y - 64) ** 2 < 40**2)
    photo = np.where(disc[..., None], 40, 200).astype(np.uint8).repeat(3, axis=2)
    with Stylizer("ink", backend="ort_cpu") as st:
        assert st.info.model is not None and st.info.model.arch == "realtime"
        out = st(photo).astype(int)
    grey = out.mean(axis=2)
    ring = np.abs(np.hypot(x - 64, y - 64) - 40) < 2
    assert grey[~disc & ~ring & (np.hypot(x - 64, y - 64) > 50)].mean() > 180  # paper
    assert grey[ring].mean() < grey[~disc & ~ring].mean() - 60  # the outline is drawn in ink
    assert (out[..., 0] >= out[..., 2]).mean() > 0.8  # warm paper, not the photo's grey


#: Styles learnt in paired mode from a procedural effect, and the least PSNR gain (dB) over the
#: photo itself against the effect's rendering, on the held-out sample photos.
EFFECT_STYLES = {"ink": 6.0, "pencil": 4.0, "woodcut": 5.0, "neon": 4.0, "relief": 4.0}


@pytest.mark.parametrize("name", sorted(EFFECT_STYLES))
def test_effect_style_draws_its_effect_on_photos_it_never_saw(name: str) -> None:
    """On the held-out sample photos (astronaut, coffee), the model's output is much closer to
    the procedural rendering than the photo is (PSNR; measured gains 5.6–16 dB). The texture
    statistic is reported in docs/training-experiments.md, not gated here: at this size it does
    not separate pencil and relief from the photo on the astronaut."""
    pytest.importorskip("torch")
    from PIL import Image

    from restyle.samples import sample_photos
    from restyle.training.bundled import BUNDLED, PAIR_PHOTOS
    from restyle.training.effects import render_effect

    recipe = next(r for r in BUNDLED if r.name == name)
    assert recipe.effect is not None
    for path in sample_photos():
        if path.stem in PAIR_PHOTOS:
            continue  # seen in training
        img = Image.open(path).convert("RGB")
        img.thumbnail((320, 320))
        photo = np.asarray(img)
        target = render_effect(recipe.effect, photo).astype(float)
        with Stylizer(name, backend="ort_cpu") as st:
            out = st(photo)

        def psnr(a: np.ndarray, b: np.ndarray = target) -> float:
            return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b) ** 2)))

        assert psnr(out) > psnr(photo) + EFFECT_STYLES[name], (path.stem, psnr(out), psnr(photo))


def test_every_bundled_style_has_a_recipe() -> None:
    pytest.importorskip("torch")
    from restyle.training.bundled import BUNDLED

    assert sorted(r.name for r in BUNDLED) == [s.name for s in list_styles()]
    for recipe in BUNDLED:
        assert read_model_info(recipe.name).arch == recipe.arch


def test_demo_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--style", "sunset"]) == 0
    stdout = capsys.readouterr().out
    assert "frames/s" in stdout
    written = sorted(p.name for p in (tmp_path / "sunset").iterdir())
    assert written == ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg", "sample.mp4"]
    assert (tmp_path / "gallery.jpg").stat().st_size > 10_000
    import av

    with av.open(str(tmp_path / "sunset" / "sample.mp4")) as c:
        assert c.streams.video[0].frames == 48
