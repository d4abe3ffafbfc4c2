"""Named training presets: published recipes as settings of :class:`TrainConfig`.

A preset fills in settings a user does not give; anything given explicitly wins
(``restyle train --preset johnson2016 --steps 2000`` keeps the preset's other settings).

``johnson2016`` — Johnson, Alahi and Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (ECCV 2016) and their fast-neural-style code: the ``johnson`` generator
(9×9 in/out, 32/64/128 channels, 5 residual blocks, InstanceNorm as in its later release),
VGG16 loss network with style at relu1_2, relu2_2, relu3_3, relu4_3 and content at relu2_2
(ImageNet mean/std normalisation, which torchvision's weights expect), 256×256 training crops,
the style image at 256 px, batch 4, Adam at lr 1e-3, 40,000 steps (two epochs of COCO in the
paper), content : style weight 1 : 5 (their code's defaults), no adversarial term, a light
total-variation term. What differs, and why: restyle's losses are scale-free relative errors,
so the 1 : 5 ratio is kept but the absolute balance is not the paper's (their TV strength,
1e-6 … 1e-4 on 0–255 images, has no exact counterpart: 0.01 on restyle's mean-L1 TV is the same
"barely smoothing" role); restyle's learning rate follows a one-cycle schedule peaking at 1e-3
instead of staying constant; the content photos are yours (``--content``), not COCO. On 2 CPU
cores one step takes seconds: this preset is for a GPU and a user with the VGG16 weights
(``--vgg-weights vgg16-397923af.pth``).

``bold`` — for a style image whose structure is larger than a brush mark (mosaic cells, dots,
flat patches), on the offline random features: the photo's layout kept only at 16-px blocks
(``content_block``), a strong adversarial loss (2) from a discriminator that judges 78-px
patches of 128-px crops (4 stages). Measured on held-out photos (docs/training-experiments.md,
session 10): the texture statistic of a drawn glass mosaic 1.16 → 0.74 and of round dots
0.74 → 0.36, at a lower content correlation (0.94 → 0.68 / 0.69). By eye the mosaic becomes
flat colour patches with dark outlines (no cells with grout) and the dots a dense
mottled texture: bolder than the default, not a faithful copy of closed shapes.

Example:
    >>> PRESETS["johnson2016"].settings["features"]
    'vgg16'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from restyle.errors import ConfigError

__all__ = ["PRESETS", "Preset", "preset_settings"]


@dataclass(frozen=True)
class Preset:
    """A named set of :class:`~restyle.training.TrainConfig` settings."""

    name: str
    summary: str
    settings: Mapping[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "bold": Preset(
        "bold",
        "large shapes from a style image, offline: content kept at 16-px blocks, adversarial 2, "
        "a 4-stage discriminator (78-px patches)",
        MappingProxyType({
            "content_block": 16, "content_weight": 1.0, "adversarial_weight": 2.0,
            "discriminator_stages": 4,
        }),
    ),
    "johnson2016": Preset(
        "johnson2016",
        "Johnson et al. 2016 on VGG16: johnson generator, relu1_2–relu4_3 style / relu2_2 "
        "content, 256 px, style 256 px, batch 4, lr 1e-3, 40k steps, weights 1:5, light TV",
        MappingProxyType({
            "arch": "johnson", "features": "vgg16", "size": 256, "style_size": 256,
            "batch_size": 4, "lr": 1e-3, "steps": 40_000, "content_weight": 1.0,
            "style_weight": 5.0, "tv_weight": 0.01, "adversarial_weight": 0.0,
        }),
    ),
}


def preset_settings(name: str | None) -> dict[str, Any]:
    """The settings of preset ``name`` (``None``: none).

    Raises:
        ConfigError: Unknown preset (the message lists the known ones).
    """
    if name is None:
        return {}
    try:
        return dict(PRESETS[name].settings)
    except KeyError:
        raise ConfigError(f"no training preset {name!r}: choose one of "
                          f"{', '.join(sorted(PRESETS))}") from None
