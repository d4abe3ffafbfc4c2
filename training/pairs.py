"""Example pairs for paired training (learning from examples, as pix2pix does).

A pairs folder holds each photo and its stylised version under the same file stem::

    DIR/input/beach.jpg     the photo
    DIR/target/beach.png    the same photo in the style (same size; any of jpg/jpeg/png/webp)

Both images of a pair get the same random crop and flip, so the generator sees aligned examples.
Crops are taken at the photos' own resolution (a photo whose shorter side is under the crop size
is enlarged to it, one over 4× the crop size reduced to that), so a generator learns an effect at
the scale of the pixels it will be used on. A target of another size than its photo is resized
to the photo's size.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> d = Path(tempfile.mkdtemp())
    >>> for sub, colour in (("input", (10, 20, 30)), ("target", (200, 30, 30))):
    ...     (d / sub).mkdir()
    ...     Image.new("RGB", (48, 40), colour).save(d / sub / "a.png")
    >>> pairs = folder_pairs(d, size=32)
    >>> photos, targets = pairs.sample(2, np.random.default_rng(0))
    >>> photos.shape, targets.shape
    (torch.Size([2, 3, 32, 32]), torch.Size([2, 3, 32, 32]))
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from restyle.errors import TrainingError
from restyle.training.data import CONTENT_SUFFIXES, load_rgb, resize_short_side

__all__ = ["INPUT_DIR", "TARGET_DIR", "PairedImages", "find_pairs", "folder_pairs"]

INPUT_DIR = "input"
TARGET_DIR = "target"
_CACHE_PAIRS = 128
_MIN_SIDE = 16


def _images_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in CONTENT_SUFFIXES:
            if p.stem in found:
                raise TrainingError(f"{folder} holds two images named {p.stem!r} "
                                    f"({found[p.stem].name} and {p.name}): keep one of them")
            found[p.stem] = p
    return found


def _few(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def find_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """The (photo, target) file pairs of a pairs folder, matched by file stem, sorted by name.

    Raises:
        TrainingError: The folder or its ``input``/``target`` sub-folder is missing, holds no
            images, or a name has no partner (the message lists some of them).
    """
    root = Path(folder)
    inputs, targets = root / INPUT_DIR, root / TARGET_DIR
    for sub in (inputs, targets):
        if not sub.is_dir():
            raise TrainingError(
                f"pairs folder {root} has no {sub.name}/ sub-folder: put the photos in "
                f"{root / INPUT_DIR}/NAME.jpg and their stylised versions in "
                f"{root / TARGET_DIR}/NAME.jpg (same file name)")
    photos, styled = _images_by_stem(inputs), _images_by_stem(targets)
    lonely_photos = sorted(set(photos) - set(styled))
    lonely_targets = sorted(set(styled) - set(photos))
    if lonely_photos or lonely_targets:
        parts = []
        if lonely_photos:
            parts.append(f"{len(lonely_photos)} photo(s) in {inputs} without a target "
                         f"({_few(lonely_photos)})")
        if lonely_targets:
            parts.append(f"{len(lonely_targets)} target(s) in {targets} without a photo "
                         f"({_few(lonely_targets)})")
        raise TrainingError("unmatched names in the pairs folder: " + "; ".join(parts)
                            + ": every input/NAME.ext needs a target/NAME.ext with the same "
                              "name (the extensions may differ)")
    if not photos:
        raise TrainingError(f"no image pairs (.jpg, .jpeg, .png, .webp) in {inputs} and "
                            f"{targets}: add photos and their stylised versions")
    return [(photos[name], styled[name]) for name in sorted(photos)]


class PairedImages:
    """Aligned (photo, target) training crops: both images of a pair are cropped at the same
    random place and flipped together, at the photo's own resolution.

    Decoded pairs (uint8, shorter side between the crop size and 4× it) are cached, up to 128.
    """

    def __init__(self, files: list[tuple[Path, Path]], *, size: int, origin: str) -> None:
        if not files:
            raise TrainingError(f"no image pairs in {origin}")
        self._files = list(files)
        self.size = size
        self.origin = origin
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._files)

    @property
    def names(self) -> list[str]:
        """The pairs' file stems."""
        return [photo.stem for photo, _ in self._files]

    def _get(self, index: int) -> np.ndarray:
        """HxWx6 uint8: the photo's RGB then the target's."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        photo_path, target_path = self._files[index]
        photo, target = load_rgb(photo_path), load_rgb(target_path)
        h, w = photo.shape[:2]
        if min(h, w) < _MIN_SIDE:
            raise TrainingError(f"photo {photo_path} is {w}×{h} pixels: pairs need at least "
                                f"{_MIN_SIDE} pixels on a side")
        if target.shape[:2] != photo.shape[:2]:
            t = torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1)[None]
            target = torch.nn.functional.interpolate(
                t, size=(h, w), mode="bicubic", antialias=True, align_corners=False
            )[0].permute(1, 2, 0).clamp(0, 1).numpy()
        both = np.concatenate([photo, target], axis=2)
        short = min(max(min(h, w), self.size), 4 * self.size)
        small = (resize_short_side(both, short) * 255.0 + 0.5).astype(np.uint8)
        self._cache[index] = small
        if len(self._cache) > _CACHE_PAIRS:
            self._cache.popitem(last=False)
        return small

    def sample(self, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` aligned random crops: photos and targets, each ``count``x3xSxS in [0, 1]."""
        out: list[torch.Tensor] = []
        for _ in range(count):
            arr = self._get(int(rng.integers(len(self._files))))
            h, w = arr.shape[:2]
            top = int(rng.integers(h - self.size + 1))
            left = int(rng.integers(w - self.size + 1))
            crop = torch.from_numpy(np.ascontiguousarray(
                arr[top:top + self.size, left:left + self.size])).permute(2, 0, 1).float() / 255.0
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            out.append(crop)
        batch = torch.stack(out).contiguous()
        return batch[:, :3].contiguous(), batch[:, 3:].contiguous()

    def fixed_pairs(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Centre crops of the first ``count`` pairs (for previews): photos and targets."""
        out = []
        for i in range(min(count, len(self._files))):
            t = torch.from_numpy(self._get(i)).permute(2, 0, 1).float().div(255.0)
            h, w = t.shape[-2:]
            top, left = (h - self.size) // 2, (w - self.size) // 2
            out.append(t[:, top:top + self.size, left:left + self.size])
        batch = torch.stack(out)
        return batch[:, :3].contiguous(), batch[:, 3:].contiguous()

    def fixed(self, count: int) -> torch.Tensor:
        """Centre crops of the first ``count`` photos (for previews)."""
        return self.fixed_pairs(count)[0]


def folder_pairs(folder: str | Path, *, size: int) -> PairedImages:
    """The pairs of a pairs folder as training crops of ``size`` pixels.

    Raises:
        TrainingError: See :func:`find_pairs`.
    """
    return PairedImages(find_pairs(folder), size=size, origin=str(folder))
