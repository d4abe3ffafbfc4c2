"""Pairs folders: photos and their renderings, for ``restyle train --pairs``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from restyle.errors import ConfigError
from restyle.paths import atomic_output
from restyle.training.effects.registry import Effect, render_effect

__all__ = ["load_photos", "write_effect_pairs"]


def write_effect_pairs(out: str | Path, *, effect: str | Effect,
                       photos: dict[str, NDArray[np.uint8]], resume: bool = False,
                       progress: bool = False) -> Path:
    """Write a pairs folder: ``out/input/NAME.png`` photos and ``out/target/NAME.png`` their
    renderings with ``effect`` (a name in :data:`~restyle.training.effects.EFFECTS`, or any
    HxWx3 uint8 → HxWx3 uint8 function, e.g. a :class:`~restyle.training.effects.ModelEffect`).
    Existing files are not overwritten. ``resume``: a photo whose target exists is done (every
    file is written whole, the target last) and is skipped; the others are rendered again.
    ``progress``: a bar with rate and ETA on standard error.

    Returns:
        ``out``.

    Raises:
        ConfigError: Unknown effect, or ``out`` already holds a file of the same name.
    """
    from restyle.progress import Progress

    root = Path(out)
    todo = {name: photo for name, photo in photos.items()
            if not (resume and (root / "target" / f"{name}.png").is_file())}
    with Progress(len(photos), initial=len(photos) - len(todo), desc="render pairs",
                  unit="photo", enabled=progress) as bar:
        for name, photo in todo.items():
            target = render_effect(effect, photo) if isinstance(effect, str) else effect(photo)
            for sub, image in (("input", photo), ("target", target)):
                path = root / sub / f"{name}.png"
                if path.exists() and not resume:
                    raise ConfigError(f"{path} exists: choose an empty output folder")
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(path) as tmp:
                    Image.fromarray(image).save(tmp, format="PNG")
            bar.update(1)
    return root


def load_photos(content: Path | None) -> dict[str, NDArray[np.uint8]]:
    """The photos of folder ``content`` by file stem (default:
    :data:`restyle.training.bundled.PAIR_PHOTOS`) as HxWx3 uint8 arrays."""
    from restyle.training.data import folder_content, load_rgb

    if content is None:
        from restyle.training.bundled import pair_photos

        return pair_photos()
    names = folder_content(content, size=16).names
    return {Path(n).stem: (load_rgb(n) * 255.0 + 0.5).astype(np.uint8) for n in names}
