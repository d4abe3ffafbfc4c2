"""Distillation: a restyle model as an effect, rendering the pairs a faster generator learns."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from restyle.training.effects.pairs import load_photos, write_effect_pairs

__all__ = ["ModelEffect", "teacher_pairs"]

log = logging.getLogger("restyle.training.effects")


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
    photos = load_photos(content)
    with ModelEffect(model) as teacher:
        log.info("the teacher %s renders %d pairs into %s", model, len(photos), root)
        write_effect_pairs(partial, effect=teacher, photos=photos)
    partial.rename(root)
    return root
