"""Images for training: style images of any mode, content photos from a folder or built in.

Everything random here draws from one ``numpy.random.Generator`` owned by the trainer, so a run
with a fixed seed (and a resumed one) sees the same crops in the same order.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from restyle._optional import require
from restyle.errors import InvalidImageError, TrainingError
from restyle.images import load_image, to_rgb

__all__ = [
    "BUILTIN_PHOTOS",
    "CONTENT_SUFFIXES",
    "DEFAULT_MAX_STYLE_SIDE",
    "HELD_OUT_PHOTOS",
    "MIN_STYLE_SIDE",
    "ContentImages",
    "builtin_content",
    "folder_content",
    "load_rgb",
    "load_style_image",
    "random_crops",
    "resize_short_side",
]

log = logging.getLogger("restyle.training.data")

CONTENT_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MIN_STYLE_SIDE = 32
#: Without a style size the style image keeps its own scale, shrunk to at most this shorter side:
#: the losses then see its strokes and cells at the size the artist drew them (measured on a
#: held-out hatching image, texture statistic 0.69 shrunk to 192 px, 0.47 at its own 512 px).
DEFAULT_MAX_STYLE_SIDE = 512
_MIN_CONTENT_SIDE = 16
_CACHE_IMAGES = 256

#: scikit-image's public-domain photos that judge a trained style: never trained on, so every
#: texture measure and side-by-side in ``benchmarks/`` and the docs shows unseen photos.
HELD_OUT_PHOTOS = ("astronaut", "camera", "coffee", "coins")
#: scikit-image's public-domain sample photos used when no content folder is given (disjoint
#: from :data:`HELD_OUT_PHOTOS`): a cat, a rocket, motorcycles, textures, microscopy and sky.
BUILTIN_PHOTOS = ("chelsea", "rocket", "motorcycle", "motorcycle_right", "immunohistochemistry",
                  "retina", "hubble_deep_field", "grass", "gravel", "brick", "moon", "clock")


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file of any PIL mode as HxWx3 float32 RGB in [0, 1].

    The runtime's decoder reads it (:func:`restyle.images.load_image` and
    :func:`restyle.images.to_rgb`: EXIF orientation, 16-bit and wide modes scaled by their
    measured range, palette, CMYK and YCbCr converted), so training sees what ``Stylizer``
    sees; transparency is then composited over white.

    Raises:
        InvalidImageError: The file does not exist or is not a readable image.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "gray.png"
        >>> Image.new("L", (40, 30), 128).save(p)
        >>> load_rgb(p).shape
        (30, 40, 3)
    """
    rgb, alpha = to_rgb(load_image(path))
    out = rgb.astype(np.float32) / np.float32(255.0)
    if alpha is not None:
        a = alpha[..., None].astype(np.float32) / np.float32(255.0)
        out = out * a + (np.float32(1.0) - a)
    return out


def resize_short_side(arr: np.ndarray, short: int) -> np.ndarray:
    """Resize HxWx3 float so the shorter side is ``short`` (antialiased bicubic)."""
    h, w = arr.shape[:2]
    scale = short / min(h, w)
    size = (max(short, round(w * scale)), max(short, round(h * scale)))
    if size == (w, h):
        return arr
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(t, size=(size[1], size[0]), mode="bicubic",
                                          antialias=scale < 1, align_corners=False)
    return out[0].permute(1, 2, 0).clamp(0, 1).numpy()


def load_style_image(path: str | Path, *, short_side: int | None = None) -> torch.Tensor:
    """Read a style image as a 3xHxW float tensor whose shorter side is ``short_side``.

    ``None`` keeps the image's own scale, shrinking it to :data:`DEFAULT_MAX_STYLE_SIDE` at most.

    Raises:
        InvalidImageError: Missing or unreadable file.
        TrainingError: The image is smaller than :data:`MIN_STYLE_SIDE` on a side.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "art.png"
        >>> Image.new("RGB", (80, 40), (200, 30, 30)).save(p)
        >>> load_style_image(p, short_side=64).shape
        torch.Size([3, 64, 128])
        >>> load_style_image(p).shape
        torch.Size([3, 40, 80])
    """
    arr = load_rgb(path)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_STYLE_SIDE:
        raise TrainingError(
            f"style image {path} is {w}×{h} pixels: a style image needs at least "
            f"{MIN_STYLE_SIDE}×{MIN_STYLE_SIDE} (ideally 256 or more on its shorter side); "
            "use a larger image"
        )
    side = short_side if short_side is not None else min(DEFAULT_MAX_STYLE_SIDE, h, w)
    return torch.from_numpy(np.ascontiguousarray(resize_short_side(arr, side))).permute(
        2, 0, 1).contiguous()


def random_crops(images: list[torch.Tensor], *, count: int, side: int,
                 rng: np.random.Generator) -> torch.Tensor:
    """``count`` random ``side``-pixel crops (random image, place and horizontal flip).

    Args:
        images: 3xHxW (or NxCxHxW, one image per row) tensors at least ``side`` on each side.
        count: Crops to take.
        side: Crop side in pixels.
        rng: The random source.

    Returns:
        A ``count``x3x``side``x``side`` tensor.
    """
    crops = []
    for _ in range(count):
        img = images[int(rng.integers(len(images)))]
        h, w = img.shape[-2:]
        top = int(rng.integers(h - side + 1))
        left = int(rng.integers(w - side + 1))
        crop = img[..., top:top + side, left:left + side]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.stack(crops)


@dataclass(frozen=True)
class _Source:
    name: str
    load: Callable[[], np.ndarray]


class ContentImages:
    """Content photos sampled as random crops: scaled so the shorter side is 1–1.5× the crop,
    cropped at a random place, flipped half of the time.

    Decoded images (scaled to 1.5× the crop on the shorter side, as uint8) are cached, up to 256.
    An image that fails to decode later is dropped with a warning.
    """

    def __init__(self, sources: list[_Source], *, size: int, origin: str) -> None:
        if not sources:
            raise TrainingError(f"no content images in {origin}")
        self._sources = list(sources)
        self.size = size
        self.origin = origin
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sources)

    @property
    def names(self) -> list[str]:
        """The images' names (file paths or built-in photo names)."""
        return [s.name for s in self._sources]

    def _get(self, index: int) -> np.ndarray | None:
        src = self._sources[index]
        cached = self._cache.get(src.name)
        if cached is not None:
            self._cache.move_to_end(src.name)
            return cached
        try:
            arr = src.load()
        except (InvalidImageError, OSError, ValueError) as exc:
            log.warning("skipping content image %s: %s", src.name, exc)
            del self._sources[index]
            if not self._sources:
                raise TrainingError(f"no readable content images left in {self.origin}") from exc
            return None
        small = (resize_short_side(arr, round(self.size * 1.5)) * 255.0 + 0.5).astype(np.uint8)
        self._cache[src.name] = small
        if len(self._cache) > _CACHE_IMAGES:
            self._cache.popitem(last=False)
        return small

    def sample(self, count: int, rng: np.random.Generator) -> torch.Tensor:
        """``count`` random crops as a ``count``x3xSxS float tensor in [0, 1]."""
        out: list[torch.Tensor] = []
        while len(out) < count:
            arr = self._get(int(rng.integers(len(self._sources))))
            if arr is None:
                continue
            short = round(self.size * rng.uniform(1.0, 1.5))
            t = torch.from_numpy(arr).permute(2, 0, 1).float().div(255.0)
            t = torch.from_numpy(resize_short_side(t.permute(1, 2, 0).numpy(), short)).permute(
                2, 0, 1)
            out.append(random_crops([t], count=1, side=self.size, rng=rng)[0])
        return torch.stack(out).contiguous()

    def fixed(self, count: int) -> torch.Tensor:
        """Centre crops of the first ``count`` images (for previews): no randomness."""
        out: list[torch.Tensor] = []
        for i in range(min(count, len(self._sources))):
            arr = self._get(i)
            if arr is None:
                continue
            t = torch.from_numpy(arr).permute(2, 0, 1).float().div(255.0)
            h, w = t.shape[-2:]
            top, left = (h - self.size) // 2, (w - self.size) // 2
            out.append(t[:, top:top + self.size, left:left + self.size])
        return torch.stack(out)


def folder_content(folder: str | Path, *, size: int) -> ContentImages:
    """Every JPEG, PNG and WebP under ``folder`` (recursively); unreadable files are skipped and
    counted in a warning.

    Raises:
        TrainingError: The folder does not exist or holds no readable image.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (64, 48), (10, 200, 30)).save(d / "a.png")
        >>> len(folder_content(d, size=32))
        1
    """
    root = Path(folder)
    if not root.is_dir():
        raise TrainingError(f"content folder {root} does not exist: pass a folder of photos to "
                            "--content, or leave it out to use the built-in photos")
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in CONTENT_SUFFIXES and p.is_file())
    sources: list[_Source] = []
    skipped: list[str] = []
    for p in files:
        try:
            with Image.open(p) as img:
                w, h = img.size
        except (UnidentifiedImageError, OSError, ValueError):
            skipped.append(str(p))
            continue
        if min(w, h) < _MIN_CONTENT_SIDE:
            skipped.append(str(p))
            continue
        sources.append(_Source(name=str(p), load=functools.partial(load_rgb, p)))
    if skipped:
        log.warning("skipped %d unreadable or tiny (< %d px) image file(s) in %s, e.g. %s",
                    len(skipped), _MIN_CONTENT_SIDE, root, skipped[0])
    if not sources:
        raise TrainingError(
            f"no readable content images (.jpg, .jpeg, .png, .webp) in {root}"
            + (f" ({len(skipped)} unreadable or tiny)" if skipped else "")
            + ": add photos there, or leave --content out to use the built-in photos"
        )
    return ContentImages(sources, size=size, origin=str(root))


def _skimage_photo(name: str) -> np.ndarray:
    data = require("skimage.data", purpose="the built-in content photos (scikit-image)")
    if name.startswith("motorcycle"):  # motorcycle (= _left) or motorcycle_right: a stereo pair
        arr = data.stereo_motorcycle()[1 if name == "motorcycle_right" else 0]
    else:
        arr = getattr(data, name)()
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr[..., :3].astype(np.float32) / 255.0


def builtin_content(*, size: int) -> ContentImages:
    """scikit-image's public-domain sample photos (needs the ``dev`` extra's scikit-image).

    Raises:
        DependencyError: scikit-image is not installed.
    """
    require("skimage.data", purpose="the built-in content photos (scikit-image); or pass "
            "--content DIR")
    sources = [_Source(name=f"skimage:{n}", load=functools.partial(_skimage_photo, n))
               for n in BUILTIN_PHOTOS]
    return ContentImages(sources, size=size, origin="the built-in photos")
