"""Procedural effects restyle renders itself, and pairs folders made from them.

A paired run (``restyle train --pairs DIR``) can distil such an effect into a fast generator:
render the effect on photos, then learn photo → rendering. Every effect is numpy + Pillow only,
deterministic, and maps an HxWx3 uint8 photo to an HxWx3 uint8 rendering of the same size.

Effects:
    ``cartoon``: edge-preserving smoothing (median filters), colours posterised to a few levels
    per channel, and dark XDoG-style outlines (a thresholded difference of Gaussians).
    ``posterize``: the colour part alone (smoothing + posterised colours, no outlines).
    ``oil``: a Kuwahara filter (each pixel takes the mean colour of the least varied of the four
    quadrant windows around it): flat, painterly patches with sharp edges.
    ``ink``: an XDoG pen drawing (Winnemöller et al. 2012): dark ink lines and soft hatching-like
    tone from a thresholded difference of Gaussians of the luminance, on warm paper. Pure shape —
    no colour of the photo survives — so it is the clearest test of whether a generator learnt
    structure rather than a palette.

Make a pairs folder from photos (``--content DIR``; default: 14 scikit-image photos,
:data:`restyle.training.bundled.PAIR_PHOTOS`, which leave the built-in content photos — astronaut,
camera, coffee, coins … — unseen for judging the result)::

    python -m restyle.training.effects pairs/cartoon --effect cartoon
    python -m restyle.training.effects pairs/sunset --model sunset   # distil a restyle model

Example:
    >>> import numpy as np
    >>> photo = (np.random.default_rng(0).random((32, 48, 3)) * 255).astype(np.uint8)
    >>> render_effect("cartoon", photo).shape
    (32, 48, 3)
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from restyle.errors import ConfigError
from restyle.paths import atomic_output

__all__ = [
    "EFFECTS", "ModelEffect", "cartoon", "ink", "oil", "posterize", "render_effect",
    "teacher_pairs", "write_effect_pairs",
]

log = logging.getLogger("restyle.training.effects")

Effect = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]


def _smooth(img: Image.Image) -> Image.Image:
    return img.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.MedianFilter(5))


def _posterised(img: Image.Image, levels: int) -> NDArray[np.float64]:
    arr = np.asarray(img).astype(np.float64) / 255.0
    return np.round(arr * (levels - 1)) / (levels - 1)


def posterize(photo: NDArray[np.uint8], *, levels: int = 4) -> NDArray[np.uint8]:
    """Median-smoothed colours posterised to ``levels`` per channel."""
    flat = _posterised(_smooth(Image.fromarray(photo)), levels)
    out: NDArray[np.uint8] = (flat * 255.0 + 0.5).astype(np.uint8)
    return out


def cartoon(photo: NDArray[np.uint8], *, levels: int = 4, sigma: float = 1.0,
            threshold: float = 0.012) -> NDArray[np.uint8]:
    """Posterised flat colours with dark outlines where a difference of Gaussians of the
    luminance (sigma and 1.6·sigma, XDoG-style) falls below ``-threshold``."""
    img = Image.fromarray(photo)
    smooth = _smooth(img)
    flat = _posterised(smooth, levels)
    gray = smooth.convert("L")
    fine = np.asarray(gray.filter(ImageFilter.GaussianBlur(sigma))).astype(np.float64) / 255.0
    coarse = np.asarray(gray.filter(ImageFilter.GaussianBlur(1.6 * sigma))).astype(
        np.float64) / 255.0
    dog = fine - coarse
    ink = np.clip(-(dog + threshold) / threshold, 0.0, 1.0)[..., None]  # 0 paper … 1 ink
    out = flat * (1.0 - ink) + 0.08 * ink
    result: NDArray[np.uint8] = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return result


def _window_means(values: NDArray[np.float64], side: int) -> NDArray[np.float64]:
    """Means of every ``side``×``side`` window, indexed by its top-left corner (valid only)."""
    total = np.pad(values.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0), (0, 0)))
    sums = (total[side:, side:] - total[:-side, side:] - total[side:, :-side]
            + total[:-side, :-side])
    means: NDArray[np.float64] = sums / float(side * side)
    return means


def oil(photo: NDArray[np.uint8], *, radius: int = 4) -> NDArray[np.uint8]:
    """Kuwahara filter with four ``(radius+1)``-pixel quadrant windows (edge-padded)."""
    h, w = photo.shape[:2]
    rgb = np.pad(photo.astype(np.float64) / 255.0, ((radius, radius), (radius, radius), (0, 0)),
                 mode="edge")
    luma = (rgb @ np.array([0.299, 0.587, 0.114]))[..., None]
    side = radius + 1
    mean_rgb = _window_means(rgb, side)
    mean_y = _window_means(luma, side)[..., 0]
    var_y = _window_means(luma * luma, side)[..., 0] - mean_y**2
    offsets = [(0, 0), (0, radius), (radius, 0), (radius, radius)]
    variances = np.stack([var_y[oy:oy + h, ox:ox + w] for oy, ox in offsets])
    colours = np.stack([mean_rgb[oy:oy + h, ox:ox + w] for oy, ox in offsets])
    best = np.argmin(variances, axis=0)
    out = np.take_along_axis(colours, best[None, ..., None], axis=0)[0]
    result: NDArray[np.uint8] = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return result


_PAPER = np.array([0.97, 0.94, 0.87])  # warm off-white
_INK = np.array([0.10, 0.09, 0.13])  # blue-black


def ink(photo: NDArray[np.uint8], *, sigma: float = 1.2, k: float = 1.6, tau: float = 0.99,
        epsilon: float = 0.005, phi: float = 80.0) -> NDArray[np.uint8]:
    """XDoG (Winnemöller et al. 2012, eq. 5): ``D = G_σ − τ·G_kσ`` of the luminance; paper where
    ``D ≥ ε``, else ink of strength ``−tanh(φ·(D − ε))`` (soft edges, shaded dark areas)."""
    gray = Image.fromarray(photo).convert("L")
    fine = np.asarray(gray.filter(ImageFilter.GaussianBlur(sigma))).astype(np.float64) / 255.0
    coarse = np.asarray(gray.filter(ImageFilter.GaussianBlur(k * sigma))).astype(
        np.float64) / 255.0
    dog = fine - tau * coarse
    amount = np.where(dog >= epsilon, 0.0, -np.tanh(phi * (dog - epsilon)))[..., None]
    out = _PAPER * (1.0 - amount) + _INK * amount
    result: NDArray[np.uint8] = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return result


EFFECTS: dict[str, Effect] = {"cartoon": cartoon, "ink": ink, "oil": oil, "posterize": posterize}


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


def write_effect_pairs(out: str | Path, *, effect: str | Effect,
                       photos: dict[str, NDArray[np.uint8]]) -> Path:
    """Write a pairs folder: ``out/input/NAME.png`` photos and ``out/target/NAME.png`` their
    renderings with ``effect`` (a name in :data:`EFFECTS`, or any HxWx3 uint8 → HxWx3 uint8
    function, e.g. a :class:`ModelEffect`). Existing files are not overwritten.

    Returns:
        ``out``.

    Raises:
        ConfigError: Unknown effect, or ``out`` already holds a file of the same name.
    """
    root = Path(out)
    for name, photo in photos.items():
        target = render_effect(effect, photo) if isinstance(effect, str) else effect(photo)
        for sub, image in (("input", photo), ("target", target)):
            path = root / sub / f"{name}.png"
            if path.exists():
                raise ConfigError(f"{path} exists: choose an empty output folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
    return root


class ModelEffect:
    """A restyle model (a file or a bundled style name) as an effect, for distillation: pairs
    rendered by a slow generator teach a fast one (``restyle train --pairs ... --arch realtime``)
    its look. Measured: ``realtime`` taught by the bundled ``compact`` ``sunset`` this way
    (3000 steps) looks like its teacher, without the dash texture it grows when trained on the
    style image directly (docs/training-experiments.md). Owns a :class:`restyle.Stylizer`:
    close it, or use it as a context manager.

    Example:
        >>> with ModelEffect("sunset") as effect:  # doctest: +SKIP
        ...     write_effect_pairs("pairs/sunset", effect=effect, photos=photos)
    """

    def __init__(self, model: str | Path) -> None:
        from restyle import Stylizer

        # fp32: training targets are the teacher's exact function on every CPU (auto would run
        # bf16 or int8 where the CPU offers them)
        self._stylizer = Stylizer(model, backend="auto", precision="fp32")

    def __call__(self, photo: NDArray[np.uint8]) -> NDArray[np.uint8]:
        out: NDArray[np.uint8] = np.asarray(self._stylizer(photo))
        return out

    def close(self) -> None:
        """Release the model's runtime."""
        self._stylizer.close()

    def __enter__(self) -> ModelEffect:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def teacher_pairs(model: str | Path, out: str | Path, *, content: Path | None = None) -> Path:
    """Render a distillation pairs folder: ``model`` (a restyle ``.onnx`` file or bundled style)
    stylises the photos of ``content`` (default: :data:`restyle.training.bundled.PAIR_PHOTOS`)
    into ``out``. The folder appears whole or not at all (written beside it, then renamed), so an
    existing one is complete and is reused: an interrupted run started again does not re-render.

    Returns:
        ``out``, ready for ``TrainConfig(pairs=...)``.

    Raises:
        ModelFormatError: ``model`` is not a restyle model.
    """
    root = Path(out)
    if (root / "target").is_dir():
        log.info("reusing the teacher's pairs in %s", root)
        return root
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted rendering
    photos = _load_photos(content)
    with ModelEffect(model) as teacher:
        log.info("the teacher %s renders %d pairs into %s", model, len(photos), root)
        write_effect_pairs(partial, effect=teacher, photos=photos)
    partial.rename(root)
    return root


def _load_photos(content: Path | None) -> dict[str, NDArray[np.uint8]]:
    from restyle.training.data import folder_content, load_rgb

    if content is None:
        from restyle.training.bundled import pair_photos

        return pair_photos()
    names = folder_content(content, size=16).names
    return {Path(n).stem: (load_rgb(n) * 255.0 + 0.5).astype(np.uint8) for n in names}


def main(argv: list[str] | None = None) -> int:
    """``python -m restyle.training.effects OUT_DIR --effect NAME [--content DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m restyle.training.effects",
                                     description="render a procedural effect into a pairs "
                                                 "folder for `restyle train --pairs`")
    parser.add_argument("out", type=Path, help="pairs folder to write (input/ and target/)")
    parser.add_argument("--effect", choices=sorted(EFFECTS), default="cartoon")
    parser.add_argument("--model", help="render the targets with this restyle model (a file or "
                        "a bundled style) instead of an effect: distillation into a faster "
                        "generator")
    parser.add_argument("--content", type=Path,
                        help="folder of photos (default: 14 scikit-image photos, the built-in "
                             "content photos held back)")
    args = parser.parse_args(argv)
    photos = _load_photos(args.content)
    if args.model:
        with ModelEffect(args.model) as teacher:
            write_effect_pairs(args.out, effect=teacher, photos=photos)
    else:
        write_effect_pairs(args.out, effect=args.effect, photos=photos)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
