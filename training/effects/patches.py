"""Patch-based texture transfer: a photo redrawn from the style image's own patches, the teacher
that gives the style-image path its structure.

The random-feature losses carry a style image's palette and little of its structure (mosaic
cells, strokes, hatching: docs/training-experiments.md). A non-parametric method carries all of
it, because every output patch *is* a patch of the style image: texture optimisation (Kwatra et
al. 2005) guided by the photo, as in style transfer via texture synthesis (Elad and Milanfar
2017). Coarse to fine, at three resolutions and patch sizes of 32, 16 and 8 pixels:

1. every patch of the current image (half-overlapping) finds its nearest style patch, compared
   on colour and on the photo's luminance (remapped to the style's) against the style's own — the
   guide that makes the photo's shapes choose the patches;
2. the matches are blended back with robust weights (``|x - z| ** (r - 2)``, ``r = 0.8``), so
   one good match wins over several poor ones and edges stay sharp;
3. a little of the photo is mixed back in (``content_weight``), and the colours are matched to
   the style image's histogram.

Slow (about 10 s for a 512² photo on two cores): it renders the pairs a generator then learns
(``restyle train --style ART --patches``), it is not a runtime path. Needs ``restyle[train]``
(torch, for the patch search).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> photo = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    >>> style = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    >>> patch_transfer(photo, style).shape
    (40, 56, 3)
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from restyle.errors import ConfigError
from restyle.training.data import load_rgb, resize_short_side
from restyle.training.effects.pairs import load_photos, write_effect_pairs

__all__ = ["PatchEffect", "PatchTransfer", "patch_pairs", "patch_transfer"]

log = logging.getLogger("restyle.training.effects")

_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
_ROBUST_R = 0.8
_MIN_LEVEL_SIDE = 16
_CHUNK = 1024


@dataclass(frozen=True)
class PatchTransfer:
    """Settings of :func:`patch_transfer`.

    Attributes:
        patch_sizes: Patch sides in pixels, largest first (each resolution runs all that fit).
        levels: Resolutions, each half the next (fewer where the photo is small).
        iterations: Match-and-blend rounds per patch size and resolution.
        content_weight: How much of the photo is mixed back after each round (0: texture only;
            0.05 keeps shapes recognisable; 0.3 lets flat areas of the photo through).
        guide_weight: Weight of the photo's luminance in the patch search (0: colour only, the
            structure drifts free of the photo; 1: shapes strong, the style's texture weaker).
        max_style_patches: Candidate style patches per size (a random subset above it): memory
            and time grow with it.
        pca_dims: Dimensions the patches are projected to for the search.
    """

    patch_sizes: tuple[int, ...] = (32, 16, 8)
    levels: int = 3
    iterations: int = 3
    content_weight: float = 0.05
    guide_weight: float = 0.2
    max_style_patches: int = 20_000
    pca_dims: int = 16

    def __post_init__(self) -> None:
        if not self.patch_sizes or any(not 2 <= p <= 128 for p in self.patch_sizes):
            raise ConfigError(f"patch sizes {self.patch_sizes} must each be 2..128 pixels")
        if not 1 <= self.levels <= 6 or not 1 <= self.iterations <= 20:
            raise ConfigError("levels must be 1..6 and iterations 1..20")
        for name in ("content_weight", "guide_weight"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ConfigError(f"{name} {value} is outside 0..100")
        if not 64 <= self.max_style_patches <= 1_000_000 or not 2 <= self.pca_dims <= 256:
            raise ConfigError("max_style_patches must be 64..1000000 and pca_dims 2..256")


def _to_tensor(image: NDArray[np.uint8], what: str) -> torch.Tensor:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ConfigError(f"the {what} must be an HxWx3 uint8 image, got {image.dtype} "
                          f"{image.shape}")
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0  # a copy


def _match_histograms(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-channel quantile matching of ``x`` (CxHxW) to ``ref`` (CxH'xW')."""
    out = torch.empty_like(x)
    for c in range(x.shape[0]):
        src = x[c].flatten()
        ranks = torch.argsort(torch.argsort(src))
        ref_sorted = torch.sort(ref[c].flatten()).values
        idx = ((ranks.double() + 0.5) / src.numel() * ref_sorted.numel()).long()
        out[c] = ref_sorted[idx.clamp(max=ref_sorted.numel() - 1)].view_as(x[c])
    return out


def _patches(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """(N, C·size²) patches of a CxHxW image."""
    return F.unfold(x[None], size, stride=stride)[0].T


def _nearest(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Index of the nearest key row per query row (squared Euclidean)."""
    key_norms = (keys * keys).sum(1)
    out = torch.empty(queries.shape[0], dtype=torch.long)
    for i in range(0, queries.shape[0], _CHUNK):
        out[i:i + _CHUNK] = (key_norms[None] - 2.0 * queries[i:i + _CHUNK] @ keys.T).argmin(1)
    return out


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x[None], size=size, mode="area")[0]


def _level_shape(image: torch.Tensor, level: int) -> tuple[int, int]:
    return max(1, image.shape[1] >> level), max(1, image.shape[2] >> level)


def _refine(x: torch.Tensor, photo: torch.Tensor, guide: torch.Tensor, style: torch.Tensor,
            style_guide: torch.Tensor, size: int, cfg: PatchTransfer,
            gen: torch.Generator) -> torch.Tensor:
    """The rounds of one patch size at one resolution."""
    keys = _patches(style, size, 2)
    key_guides = _patches(style_guide, size, 2)
    if keys.shape[0] > cfg.max_style_patches:
        keep = torch.randperm(keys.shape[0], generator=gen)[:cfg.max_style_patches]
        keys, key_guides = keys[keep], key_guides[keep]
    scale = (3.0 * cfg.guide_weight) ** 0.5
    search = torch.cat([keys, key_guides * scale], 1)
    mean = search.mean(0)
    dims = min(cfg.pca_dims, *search.shape)
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    _, _, basis = torch.pca_lowrank(search - mean, q=dims, center=False)
    keys_low = (search - mean) @ basis
    stride = max(1, size // 2)
    h, w = x.shape[-2:]
    hp, wp = (h - size) // stride * stride + size, (w - size) // stride * stride + size
    for _ in range(cfg.iterations):
        current = _patches(x[:, :hp, :wp], size, stride)
        query = torch.cat([current, _patches(guide[:, :hp, :wp], size, stride) * scale], 1)
        match = keys[_nearest((query - mean) @ basis, keys_low)]
        weight = (current - match).norm(dim=1).clamp(min=1e-3) ** (_ROBUST_R - 2.0)
        num = F.fold((match * weight[:, None]).T[None], (hp, wp), size, stride=stride)[0]
        den = F.fold(weight[None, None].expand(1, match.shape[1], -1), (hp, wp), size,
                     stride=stride)[0]
        blended = x.clone()
        blended[:, :hp, :wp] = num / den.clamp(min=1e-12)
        x = _match_histograms((blended + cfg.content_weight * photo) / (1 + cfg.content_weight),
                              style)
    return x


def patch_transfer(photo: NDArray[np.uint8], style: NDArray[np.uint8],
                   config: PatchTransfer | None = None, *, seed: int = 0) -> NDArray[np.uint8]:
    """Redraw ``photo`` (HxWx3 uint8) from ``style``'s patches (see the module docstring); the
    style's texture appears at its size in pixels. Deterministic for a seed.

    Raises:
        ConfigError: An input is not an HxWx3 uint8 image.
    """
    cfg = config or PatchTransfer()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        content = _to_tensor(photo, "photo")
        art = _to_tensor(style, "style image")
        art_luma = (art * _LUMA).sum(0, keepdim=True)
        photo_luma = (content * _LUMA).sum(0, keepdim=True)
        content = _match_histograms(content, art)
        photo_luma = _match_histograms(photo_luma, art_luma)
        smallest = min(*content.shape[-2:], *art.shape[-2:])
        levels = max(1, min(cfg.levels, int(np.log2(max(1, smallest // _MIN_LEVEL_SIDE))) + 1))
        coarsest = _resize(content, _level_shape(content, levels - 1))
        x = coarsest + 0.1 * torch.randn(coarsest.shape, generator=gen)
        for level in range(levels - 1, -1, -1):
            shape, art_shape = _level_shape(content, level), _level_shape(art, level)
            c, a = _resize(content, shape), _resize(art, art_shape)
            g, ag = _resize(photo_luma, shape), _resize(art_luma, art_shape)
            x = F.interpolate(x[None], size=shape, mode="bilinear", align_corners=False)[0]
            for size in cfg.patch_sizes:
                if 2 * size <= min(*shape, *art_shape):
                    x = _refine(x, c, g, a, ag, size, cfg, gen)
        out: NDArray[np.uint8] = (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0
                                  + 0.5).astype(np.uint8)
    return out


class PatchEffect:
    """:func:`patch_transfer` with one style image, as an effect (HxWx3 uint8 → same): the
    teacher of ``restyle train --style ART --patches``. Each photo's seed comes from its pixels,
    so a rendering is reproducible whatever order the photos come in."""

    def __init__(self, style: NDArray[np.uint8], config: PatchTransfer | None = None) -> None:
        self.style = style
        self.config = config or PatchTransfer()

    def __call__(self, photo: NDArray[np.uint8]) -> NDArray[np.uint8]:
        seed = zlib.crc32(np.ascontiguousarray(photo).tobytes())
        return patch_transfer(photo, self.style, self.config, seed=seed)


def patch_pairs(style: str | Path, out: str | Path, *, content: Path | None = None,
                config: PatchTransfer | None = None, style_size: int | None = None,
                max_side: int = 512) -> Path:
    """Render a pairs folder: the photos of ``content`` (default:
    :data:`restyle.training.bundled.PAIR_PHOTOS`; larger than ``max_side`` on their shorter side
    reduced to it) redrawn from ``style``'s patches. ``style_size``: the style image's shorter
    side (its texture's scale); default its own, at most 1024. The folder appears whole or not
    at all, so an existing one is complete and reused; an interrupted rendering resumes where it
    stopped (the photos rendered before are kept).

    Returns:
        ``out``, ready for ``TrainConfig(pairs=...)``.
    """
    root = Path(out)
    if (root / "target").is_dir():
        log.info("reusing the patch-transfer pairs in %s", root)
        return root
    art = load_rgb(style)
    side = style_size or min(1024, min(art.shape[:2]))
    art_u8 = (resize_short_side(art, side) * 255.0 + 0.5).astype(np.uint8)
    photos = {name: _at_most(photo, max_side)
              for name, photo in load_photos(content).items()}
    partial = root.with_name(root.name + ".partial")  # kept by an interrupted rendering: resumed
    log.info("patch transfer of %s renders %d pairs into %s (about 10 s a photo)", style,
             len(photos), root)
    write_effect_pairs(partial, effect=PatchEffect(art_u8, config), photos=photos, resume=True,
                       progress=True)
    partial.rename(root)
    return root


def _at_most(photo: NDArray[np.uint8], max_side: int) -> NDArray[np.uint8]:
    """``photo`` reduced to ``max_side`` on its shorter side when it is larger (training's one
    resize, :func:`restyle.training.data.resize_short_side`)."""
    if min(photo.shape[:2]) <= max_side:
        return photo
    small: NDArray[np.uint8] = (resize_short_side(photo / 255.0, max_side) * 255.0
                                + 0.5).astype(np.uint8)
    return small
