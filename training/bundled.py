"""The recipe of restyle's bundled styles: draw each style image (or render an effect's pairs),
train, export into the package.

``make styles`` runs it (about 8 minutes a style on 2 idle CPU cores); the files it writes are
the ones shipped in ``sdk/styles/``. Every style image is drawn by
:mod:`restyle.training.procedural`, so the bundled models owe nothing to anyone's artwork.
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restyle.errors import ConfigError
from restyle.training.procedural import draw_style

__all__ = ["BUNDLED", "BundledRecipe", "build_style", "default_styles_dir", "main"]

log = logging.getLogger("restyle.training.bundled")

SEED = 7
LICENSE = "Apache-2.0"


@dataclass(frozen=True)
class BundledRecipe:
    """How one bundled style is made."""

    name: str
    description: str
    steps: int = 400
    arch: str = "compact"
    effect: str | None = None
    """Learn this procedural effect (:mod:`restyle.training.effects`) from pairs instead of a
    style image: paired mode on :data:`PAIR_PHOTOS`."""
    size: int = 256
    batch_size: int = 4
    image: str | None = None
    """The procedural style image (:func:`restyle.training.procedural.draw_style`); ``None``:
    the style's own name."""
    style_weight: float = 10.0
    """The style loss's weight (style-image recipes; the palette styles were built with 10)."""
    shapes: bool = False
    """Store the style image's closed shapes with the model (``restyle train --shapes``)."""


BUNDLED: tuple[BundledRecipe, ...] = (
    BundledRecipe("psychedelic", "psychedelic false colour: vivid rainbow hues over the "
                                 "photo's shapes, dark edges (compact, random-feature losses "
                                 "from a drawn glass mosaic; a palette, no mosaic cells)",
                  image="mosaic"),
    BundledRecipe("sunset", "warm sunset palette: coral, magenta, violet and gold bands "
                            "(compact, random-feature losses)"),
    BundledRecipe("popart", "pop-art primaries: flat red, yellow, blue and teal colour areas "
                            "(compact, random-feature losses; a palette, no Ben-Day dots)"),
    BundledRecipe("starry", "Van Gogh's night-sky colours, ultramarine, ochre and cadmium "
                            "yellow, laid on in short paint dabs (compact, random-feature "
                            "losses from a drawn swirling brushwork image; dabs, not his long "
                            "swirls)",
                  steps=1500, size=192, style_weight=40.0, image="brushwork"),
    BundledRecipe("mosaic", "glass mosaic: the photo laid in flat glass cells with dark grout "
                            "(compact, random-feature losses; the drawn mosaic's own cells "
                            "stored with the model and filled with its colours, --shapes)",
                  steps=1500, size=192, style_weight=40.0, shapes=True),
    BundledRecipe("pointillism", "pointillist dots of juxtaposed colours on light paper "
                                 "(compact, random-feature losses; the drawn dots stored with "
                                 "the model and filled with its colours, --shapes)",
                  steps=1500, size=192, style_weight=40.0, shapes=True),
    BundledRecipe("ink", "pen-and-ink drawing on warm paper, learnt from XDoG renderings "
                         "(realtime generator, paired mode)",
                  steps=4000, arch="realtime", effect="ink", size=128),
    BundledRecipe("pencil", "graphite pencil sketch with diagonal strokes, learnt from pencil "
                            "renderings (realtime generator, paired mode)",
                  steps=700, arch="realtime", effect="pencil", size=128),
    BundledRecipe("woodcut", "black-and-cream woodcut print: solid black masses and carved "
                             "light shapes (realtime generator, paired mode)",
                  steps=700, arch="realtime", effect="woodcut", size=128),
    BundledRecipe("neon", "glowing neon lines in the photo's own colours on black, learnt from "
                          "neon renderings (realtime generator, paired mode)",
                  steps=700, arch="realtime", effect="neon", size=128),
    BundledRecipe("relief", "embossed pewter relief lit from the top left, learnt from relief "
                            "renderings (realtime generator, paired mode)",
                  steps=2000, arch="realtime", effect="relief", size=128),
)

#: The photos a paired recipe renders its effect on (scikit-image public-domain samples). The
#: built-in content photos (astronaut, camera, coffee, coins …) are held back, so the gallery and
#: docs/training-experiments.md judge the result on photos the generator never saw.
PAIR_PHOTOS = ("chelsea", "rocket", "motorcycle_left", "motorcycle_right", "immunohistochemistry",
               "retina", "hubble_deep_field", "grass", "gravel", "brick", "moon", "page", "text",
               "clock")


def pair_photos() -> dict[str, np.ndarray]:
    """:data:`PAIR_PHOTOS` as HxWx3 uint8 arrays (needs scikit-image, the ``dev`` extra)."""
    from restyle.training.data import _skimage_photo

    return {name: (_skimage_photo(name) * 255.0 + 0.5).astype(np.uint8) for name in PAIR_PHOTOS}


def attribution(name: str, effect: str | None = None) -> str:
    """The attribution recorded in a bundled style's metadata."""
    if effect is not None:
        return (f"targets rendered by restyle (restyle.training.effects.{effect}) from "
                "scikit-image public-domain sample photos")
    return (f"style image drawn procedurally by restyle (restyle.training.procedural.{name}, "
            f"seed {SEED}); content photos: scikit-image public-domain samples")


def default_styles_dir() -> Path:
    """The folder of the package ``restyle.styles``, where the built styles belong.

    Found through :mod:`importlib.resources`, so it is the installed package's folder outside a
    source checkout, and ``sdk/styles`` in one (links of an editable install are followed).

    Raises:
        ConfigError: The package is not a folder on disk (imported from a zip): pass
            ``--styles-dir``.
    """
    marker = Path(str(importlib.resources.files("restyle.styles") / "__init__.py"))
    if not marker.is_file():
        raise ConfigError(f"restyle.styles is not a folder on disk ({marker.parent}): pass "
                          "--styles-dir DIR")
    return marker.resolve().parent


def build_style(recipe: BundledRecipe, work: Path, styles_dir: Path, *,
                threads: int | None = None) -> Path:
    """Draw, train and export one bundled style; returns the ONNX file written.

    Example:
        >>> build_style(BUNDLED[0], Path("out/styles-build"), Path("sdk/styles"))  # doctest: +SKIP
    """
    from restyle.export import to_onnx
    from restyle.training import TrainConfig, load_generator, train

    work.mkdir(parents=True, exist_ok=True)
    run = work / f"run-{recipe.name}"
    settings = functools.partial(
        TrainConfig, out=run, arch=recipe.arch, steps=recipe.steps, name=recipe.name,
        description=recipe.description, size=recipe.size, batch_size=recipe.batch_size,
        license=LICENSE, threads=threads, style_weight=recipe.style_weight,
        attribution=attribution(recipe.image or recipe.name, recipe.effect))
    if recipe.effect is not None:
        from restyle.training.effects import write_effect_pairs

        pairs = work / f"pairs-{recipe.effect}"
        if not (pairs / "target").is_dir():  # rendered beside, then renamed: whole or absent
            partial = pairs.with_name(pairs.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            write_effect_pairs(partial, effect=recipe.effect, photos=pair_photos())
            partial.rename(pairs)
        config = settings(style=(), pairs=pairs)
    else:
        drawing = recipe.image or recipe.name
        image = work / f"{drawing}.png"
        draw_style(drawing, seed=SEED).save(image)
        config = settings(style=(image,), shapes=recipe.shapes)
    train(config, resume=(run / "config.json").exists())
    result = to_onnx(load_generator(run), styles_dir / f"{recipe.name}.onnx",
                     check_shapes=[(1, 64, 64), (3, 333, 517), (1, 720, 1280)])
    log.info("wrote %s", result.path)
    return result.path


def main(argv: list[str] | None = None) -> int:
    """``python -m restyle.training.bundled [--only NAME] [--work DIR] [--styles-dir DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", help="build only this style (repeatable)")
    parser.add_argument("--work", type=Path, default=Path("out/styles-build"))
    parser.add_argument("--styles-dir", type=Path, default=None,
                        help="where the .onnx files go (default: the restyle.styles package)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    styles_dir = args.styles_dir or default_styles_dir()
    for recipe in BUNDLED:
        if not args.only or recipe.name in args.only:
            build_style(recipe, args.work, styles_dir, threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
