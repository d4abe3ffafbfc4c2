"""The losses: content, style (Gram), total variation, and adversarial.

Content and style losses are relative errors (squared error divided by the target's squared
norm), so their sizes do not depend on the feature network and one set of weights serves all.

Example:
    >>> import torch
    >>> from restyle.training.features import RandomFeatures
    >>> net = RandomFeatures(seed=0)
    >>> style = StyleLoss.from_images(net, [torch.rand(3, 64, 64)])
    >>> loss = style(net(torch.rand(2, 3, 32, 32)))
    >>> loss.shape, bool(loss > 0)
    (torch.Size([]), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from restyle.errors import ConfigError
from restyle.training.features import FeatureNetwork

__all__ = [
    "AdversarialLoss",
    "ContentLoss",
    "StyleLoss",
    "feature_matching",
    "gram_matrix",
    "luminance",
    "total_variation",
]

_LUMA = (0.299, 0.587, 0.114)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Normalised Gram matrices: ``F Fᵀ / (H·W)`` per image, shape ``(N, C, C)``."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / float(h * w)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma of NCHW RGB, shape ``(N, 1, H, W)``."""
    weights = images.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def _relative_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (x - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-8)


class ContentLoss(nn.Module):
    """How far the generated image strays from the content photo.

    With a feature network that has ``content_layers`` (VGG): relative squared error of those
    features. With one that has none (the random features): squared error of standardised
    luminance averaged over ``block``-pixel blocks (default 2: half resolution). On the random
    features the colour-sensitive feature loss fights the palette change and blurs; luminance
    alone (mean 0, std 1 per image) kept faces and objects recognisable in our measurements
    while leaving colour to the style loss.
    """

    def __init__(self, layers: Sequence[str], *, block: int = 2) -> None:
        super().__init__()
        self.layers = tuple(layers)
        self.block = block

    @staticmethod
    def standardised_luminance(images: torch.Tensor, block: int = 2) -> torch.Tensor:
        """Luminance averaged over ``block``-pixel blocks (default: half resolution),
        standardised per image."""
        y = F.avg_pool2d(luminance(images), block)
        mean = y.mean(dim=(1, 2, 3), keepdim=True)
        std = y.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-4)
        return (y - mean) / std

    def forward(
        self,
        generated: torch.Tensor,
        content: torch.Tensor,
        generated_features: dict[str, torch.Tensor],
        content_features: dict[str, torch.Tensor] | None,
    ) -> torch.Tensor:
        if not self.layers:
            return F.mse_loss(self.standardised_luminance(generated, self.block),
                              self.standardised_luminance(content, self.block))
        if content_features is None:
            raise ValueError("content features are needed for a feature content loss")
        losses = [_relative_error(generated_features[k], content_features[k])
                  for k in self.layers]
        return torch.stack(losses).mean()


class StyleLoss(nn.Module):
    """Relative squared error between Gram matrices and the style's, averaged over layers.

    The style's Gram matrices are averaged over all style images (each image's Gram is already
    normalised by its size, so images of different sizes weigh the same).
    """

    def __init__(self, targets: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.layers = tuple(targets)
        for name, gram in targets.items():
            self.register_buffer(f"target_{name}", gram)

    @classmethod
    @torch.no_grad()
    def from_images(cls, features: FeatureNetwork, styles: Sequence[torch.Tensor]) -> StyleLoss:
        """Targets from 3xHxW style images in [0, 1]."""
        if not styles:
            raise ConfigError("at least one style image is needed")
        sums: dict[str, torch.Tensor] = {}
        for image in styles:
            maps = features(image[None])
            for name in features.style_layers:
                g = gram_matrix(maps[name])[0]
                sums[name] = sums[name] + g if name in sums else g
        return cls({k: v / len(styles) for k, v in sums.items()})

    def forward(self, generated_features: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = []
        for name in self.layers:
            target = getattr(self, f"target_{name}")
            gram = gram_matrix(generated_features[name])
            losses.append(_relative_error(gram, target.expand_as(gram)))
        return torch.stack(losses).mean()


def feature_matching(generated: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                     layers: Sequence[str]) -> torch.Tensor:
    """Paired mode's feature term: relative squared error of each layer's feature maps against
    the target image's, averaged over ``layers``."""
    return torch.stack([_relative_error(generated[k], target[k]) for k in layers]).mean()


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic L1 TV)."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return dx + dy


class AdversarialLoss(nn.Module):
    """GAN losses on discriminator logits, for the discriminator and for the generator.

    The usual write-up gives the discriminator objective
    ``L_D = E[log D(x)] + E[log(1 − D(G(z)))]``, which D *maximises*; here the discriminator
    minimises its negative. The same write-up's generator objective ``L_G = E[D(G(x))]`` has no
    log and the wrong sign for a generator to minimise; the generator here minimises the
    non-saturating ``−E[log D(G(x))]`` (Goodfellow et al. 2014) instead. With D's output a logit
    and D = sigmoid(logit), ``−log D = softplus(−logit)``.

    Kinds:
        ``nonsaturating``: D: ``softplus(−D(x)) + softplus(D(G))``; G: ``softplus(−D(G))``.
        ``hinge`` (default): D: ``relu(1 − D(x)) + relu(1 + D(G))``; G: ``−D(G)``.
        ``lsgan`` (least squares): D: ``½(D(x) − 1)² + ½D(G)²``; G: ``½(D(G) − 1)²``.

    Example:
        >>> loss = AdversarialLoss("hinge")
        >>> float(loss.discriminator(torch.full((2, 1), 2.0), torch.full((2, 1), -2.0)))
        0.0
    """

    def __init__(self, kind: str = "hinge") -> None:
        super().__init__()
        if kind not in ("hinge", "nonsaturating", "lsgan"):
            raise ConfigError(f"unknown adversarial loss {kind!r}: choose hinge, nonsaturating "
                              "or lsgan")
        self.kind = kind

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The loss the discriminator minimises."""
        if self.kind == "hinge":
            return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
        if self.kind == "lsgan":
            return 0.5 * ((real_logits - 1.0).pow(2).mean() + fake_logits.pow(2).mean())
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The loss the generator minimises."""
        if self.kind == "hinge":
            return -fake_logits.mean()
        if self.kind == "lsgan":
            return 0.5 * (fake_logits - 1.0).pow(2).mean()
        return F.softplus(-fake_logits).mean()
