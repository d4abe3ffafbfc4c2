"""The patch-transfer teacher of ``restyle train --style ART --patches``: real renderings, the
texture statistic, resumable pairs folders, the CLI route into a real training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restyle.cli.main import main
from restyle.errors import ConfigError
from restyle.training import TrainConfig
from restyle.training.effects import PatchTransfer, patch_pairs, patch_transfer, render_effect
from restyle.training.effects.pairs import write_effect_pairs
from restyle.training.procedural import draw_style
from restyle.training.texture import histogram_match, texture_score


def _photo(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth photo-like image: gradients and a few soft discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([yy, xx, 1 - yy], axis=2) * 200 + 20
    for _ in range(3):
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] *= rng.uniform(0.4, 1.0, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _astronaut(side: int) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((side, side)))


def test_the_style_patches_carry_its_texture_where_a_palette_does_not() -> None:
    style = np.asarray(draw_style("mosaic", size=192))
    photo = _astronaut(160)
    out = patch_transfer(photo, style)
    assert out.shape == photo.shape and out.dtype == np.uint8
    score = texture_score(photo, out, style).score
    assert texture_score(photo, histogram_match(photo, style), style).score == pytest.approx(1.0)
    assert score < 0.8, score  # measured 0.4–0.7 at this size; 1.0 = the palette only
    # the photo is still there: the result follows the photo's light and dark more than chance
    luma = [np.asarray(Image.fromarray(a).convert("L"), dtype=np.float64).ravel()
            for a in (photo, out)]
    assert np.corrcoef(*luma)[0, 1] > 0.2


def test_deterministic_for_a_seed_and_safe_on_tiny_or_odd_sizes() -> None:
    style = np.asarray(draw_style("popart", size=64))
    photo = _photo(1, 37, 53)
    cfg = PatchTransfer(patch_sizes=(8, 4), levels=2, iterations=1)
    a, b = patch_transfer(photo, style, cfg, seed=3), patch_transfer(photo, style, cfg, seed=3)
    assert np.array_equal(a, b)
    assert patch_transfer(_photo(2, 3, 5), style, cfg).shape == (3, 5, 3)  # no patch fits
    assert patch_transfer(photo, style[:6, :9], cfg).shape == photo.shape  # a tiny style


def test_bad_inputs_and_settings_are_named() -> None:
    style = np.asarray(draw_style("sunset", size=32))
    with pytest.raises(ConfigError, match="photo must be an HxWx3 uint8"):
        patch_transfer(np.zeros((8, 8), np.uint8), style)
    with pytest.raises(ConfigError, match="style image must be"):
        patch_transfer(_photo(0), style.astype(np.float32))
    with pytest.raises(ConfigError, match="patch sizes"):
        PatchTransfer(patch_sizes=(1,))
    with pytest.raises(ConfigError, match="content_weight"):
        PatchTransfer(content_weight=-1)


def test_an_interrupted_rendering_resumes_without_redoing_finished_photos(tmp_path: Path) -> None:
    photos = {f"p{k}": _photo(k) for k in range(3)}
    calls: list[int] = []

    def flaky(photo: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the second photo
        return render_effect("ink", photo)

    out = tmp_path / "pairs"
    with pytest.raises(KeyboardInterrupt):
        write_effect_pairs(out, effect=flaky, photos=photos, resume=True)
    assert sorted(p.name for p in (out / "target").iterdir()) == ["p0.png"]
    rendered: list[int] = []

    def ink(photo: np.ndarray) -> np.ndarray:
        rendered.append(1)
        return render_effect("ink", photo)

    write_effect_pairs(out, effect=ink, photos=photos, resume=True)
    assert len(rendered) == 2  # p0 was finished: kept, not rendered again
    assert sorted(p.name for p in (out / "target").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    with pytest.raises(ConfigError, match="exists"):  # without resume nothing is overwritten
        write_effect_pairs(out, effect="ink", photos=photos)


def test_cli_patches_renders_pairs_and_trains_on_them(tmp_path: Path) -> None:
    content = tmp_path / "photos"
    content.mkdir()
    for k in range(2):
        Image.fromarray(_photo(10 + k)).save(content / f"p{k}.png")
    style = tmp_path / "art.png"
    draw_style("mosaic", size=64).save(style)
    run = tmp_path / "run"
    args = ["-q", "train", "--style", str(style), "--patches", "--patch-content", "0.1",
            "--content", str(content), "--arch", "realtime", "--width", "4", "--blocks", "1",
            "--size", "32", "--batch-size", "1", "--steps", "2", "--threads", "1",
            "--checkpoint-every", "1", "--out", str(run)]
    assert main(args) == 0
    pairs = run / "patch-pairs"
    assert sorted(p.name for p in (pairs / "target").iterdir()) == ["p0.png", "p1.png"]
    assert not pairs.with_name("patch-pairs.partial").exists()
    config = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert config.pairs == pairs and config.style == (style,) and config.content is None
    assert (config.pixel_weight, config.adversarial_weight) == (1.0, 2.0)  # --patches' defaults
    assert (run / "generator.safetensors").is_file()
    stamp = (pairs / "target" / "p0.png").stat().st_mtime_ns
    assert patch_pairs(style, pairs) == pairs  # complete: reused, not rendered again
    assert (pairs / "target" / "p0.png").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("extra, message", [
    (["--patch-content", "0.1"], "--patch-content sets the patch transfer"),
    (["--patches", "--style", "{style}"], "exactly one --style"),
    (["--patches", "--pairs", "{tmp}"], "leave out --pairs"),
    (["--patches", "--teacher", "sunset"], "leave out --pairs and --teacher"),
])
def test_cli_patches_misuse_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     extra: list[str], message: str) -> None:
    style = tmp_path / "art.png"
    draw_style("sunset", size=32).save(style)
    extra = [e.format(style=style, tmp=tmp_path) for e in extra]
    code = main(["-q", "train", "--style", str(style), *extra, "--steps", "1",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert message in capsys.readouterr().err
