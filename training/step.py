"""One training run's state and its step: data, generator, losses, discriminator, optimisers.

Each step (a CycleGAN-style ``optimize_parameters``):

1. the generator stylises a batch of content crops;
2. generator step, with the discriminator frozen: content + style + total-variation +
   adversarial loss;
3. discriminator step: random crops of the style image(s) (real) against random crops of the
   generated batch (fake, detached).

In paired mode (``config.pairs``) the batch is aligned (photo, target) crops; the generator loss
is L1 to the target + feature matching against the target (+ Gram loss when style images are
given) + adversarial, and the discriminator is conditional, as in pix2pix: it judges crops of
(photo, target) (real) against the same crops of (photo, result) (fake), 6 channels.

``config.init_from`` starts the generator from a checkpoint of the same architecture
(fine-tuning); the optimisers and the discriminator start fresh.

Everything random draws from one seeded numpy generator (data, crops) and torch's global one
(initial weights), both saved in checkpoints, so a resumed run repeats the uninterrupted one.

Why one module of about 400 lines: :class:`TrainingRun` is one object whose state (networks,
optimisers, random generators) must round-trip through a checkpoint exactly; its step and its
``state_dict`` / ``load_state`` pair are kept side by side so a new piece of state cannot be
added to one and forgotten in the other.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restyle.errors import ConfigError, ModelFormatError, TrainingError
from restyle.training.checkpoint import (
    TrainingState,
    load_generator,
    load_training_state,
    save_checkpoint,
)
from restyle.training.config import TrainConfig
from restyle.training.data import (
    ContentImages,
    builtin_content,
    folder_content,
    load_rgb,
    load_style_image,
    random_crops,
)
from restyle.training.discriminator import PatchDiscriminator, set_requires_grad
from restyle.training.features import create_features
from restyle.training.losses import (
    AdversarialLoss,
    ContentLoss,
    StyleLoss,
    feature_matching,
    total_variation,
)
from restyle.training.models import Generator, create_model
from restyle.training.pairs import PairedImages, folder_pairs
from restyle.training.shapes import segment_style

__all__ = ["StepLog", "TrainingRun", "one_cycle_lr", "resolve_device"]

_D_BETAS = (0.5, 0.99)


@dataclass(frozen=True)
class StepLog:
    """The named losses of one finished step (``step`` counts from 1)."""

    step: int
    content: float
    style: float
    tv: float
    adv_g: float
    adv_d: float
    total: float
    lr: float
    pixel: float = 0.0
    feature: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def one_cycle_lr(step: int, total: int, peak: float) -> float:
    """One-cycle learning rate (Smith 2018; PyTorch's OneCycleLR defaults) for 0-based ``step``:
    cosine warm-up over the first 30 % from ``peak/25``, then cosine annealing to ``peak/25e4``.

    Example:
        >>> one_cycle_lr(0, 100, 1.0), round(one_cycle_lr(30, 100, 1.0), 6)
        (0.04, 1.0)
    """
    start, end = peak / 25.0, peak / 25.0 / 1e4
    warm = max(1, round(0.3 * total))
    if step < warm:
        t = step / warm
        return start + (peak - start) * (1 - math.cos(math.pi * t)) / 2
    t = min(1.0, (step - warm) / max(1, total - 1 - warm))
    return end + (peak - end) * (1 + math.cos(math.pi * t)) / 2


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; otherwise the named device, checked.

    Raises:
        ConfigError: A CUDA device was asked for but none is usable.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but this PyTorch sees no CUDA GPU: "
                          "use --device cpu, or install a CUDA build of torch")
    return device


def _value(t: torch.Tensor) -> float:
    return float(t.detach())


def _arch_text(arch: str, config: dict[str, Any]) -> str:
    """``compact (width=8, blocks=1)``."""
    return f"{arch} ({', '.join(f'{k}={v}' for k, v in config.items())})"


def _python_rng_state() -> dict[str, Any]:
    version, state, gauss_next = random.getstate()
    return {"version": version, "state": list(state), "gauss_next": gauss_next}


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer,
                       tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    sd = opt.state_dict()
    info: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, entry in sd["state"].items():
        plain = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                plain[key] = value
        info["state"][str(idx)] = plain
    return info


def _restore_optimizer(prefix: str, opt: torch.optim.Optimizer, info: dict[str, Any],
                       tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in info["state"].items()}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    groups = info["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


class TrainingRun:
    """One training run's objects: data, generator, losses, discriminator, optimisers, random
    state. :func:`train` drives it; benchmarks time :meth:`train_step` directly.

    Raises:
        TrainingError, InvalidImageError, ConfigError: Bad style/content images or settings.
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.generator: Generator = create_model(config.arch, **config.arch_kwargs)
        if config.init_from is not None:
            self.load_initial_weights(config.init_from)
        multiple = self.generator.size_multiple
        if config.size % multiple:
            raise ConfigError(f"size {config.size} is not a multiple of {multiple}, which "
                              f"{config.arch} needs: use {config.size // multiple * multiple}")
        self.styles = [load_style_image(p, short_side=config.style_size) for p in config.style]
        #: The style's closed shapes (``--shapes``), as stored in checkpoints; ``""``: none.
        self.shapes = ""
        if config.shapes:
            h, w = self.styles[0].shape[-2:]
            rgb = (load_rgb(config.style[0]) * 255.0 + 0.5).astype(np.uint8)
            self.shapes = segment_style(rgb, size=(h, w)).to_text()
        style_side = min((min(s.shape[-2:]) for s in self.styles), default=config.size)
        self.pairs: PairedImages | None = None
        self.content: ContentImages | PairedImages
        if config.pairs is not None:
            self.pairs = self.content = folder_pairs(config.pairs, size=config.size)
        elif config.content is not None:
            self.content = folder_content(config.content, size=config.size)
        else:
            self.content = builtin_content(size=config.size)
        self.features = create_features(config.features, seed=config.seed,
                                        vgg_weights=config.vgg_weights)
        self.content_loss = ContentLoss(self.features.content_layers, block=config.content_block)
        self.style_loss: StyleLoss | None = (
            StyleLoss.from_images(self.features, self.styles) if self.styles else None)
        self.adversarial = AdversarialLoss(config.adversarial_loss)
        self.discriminator = PatchDiscriminator(stages=config.discriminator_stages,
                                                in_channels=6 if self.pairs is not None else 3)
        self.device = resolve_device(config.device)
        for module in (self.generator, self.features, self.discriminator):
            module.to(self.device)
        if self.style_loss is not None:
            self.style_loss.to(self.device)
        self.crop = min(config.discriminator_crop, config.size,
                        style_side if self.pairs is None else config.size)
        if self.crop < 2 ** config.discriminator_stages:
            raise ConfigError(
                f"the discriminator's {config.discriminator_stages} stride-2 stages need crops of "
                f"at least {2 ** config.discriminator_stages} px, but the crops are {self.crop} px "
                f"(the smallest of --size {config.size}, the style image's side {style_side} and "
                f"the crop): use fewer stages or larger images")
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.d_lr,
                                      betas=_D_BETAS)
        self.step = 0

    def load_initial_weights(self, path: Path) -> None:
        """Fine-tuning: copy the weights of the checkpoint (or run folder) ``path``.

        Raises:
            ModelFormatError: The file is unreadable, or holds another architecture or size.
        """
        loaded = load_generator(path)
        ours, theirs = (self.config.arch, self.generator.config()), (loaded.arch,
                                                                      loaded.arch_config)
        if ours != theirs:
            flags = " ".join([f"--arch {loaded.arch}"] + [
                f"--{k} {v}" for k, v in loaded.arch_config.items()
                if isinstance(v, int) and not isinstance(v, bool)])
            raise ModelFormatError(
                f"--init-from {loaded.path} holds a {_arch_text(*theirs)} generator, but this "
                f"run trains {_arch_text(*ours)}: fine-tuning needs the same architecture and "
                f"size; train with {flags}, or leave out --init-from")
        self.generator.load_state_dict(loaded.module.state_dict())
        self.generator.train()

    # -- one step -------------------------------------------------------------------------
    def train_step(self) -> StepLog:
        """One generator step and one discriminator step; returns the named losses."""
        if isinstance(self.content, PairedImages):
            return self._paired_step(self.content)
        return self._style_step(self.content)

    def _style_step(self, photos: ContentImages) -> StepLog:
        """Style mode: content + style + total-variation + adversarial loss."""
        cfg = self.config
        lr = one_cycle_lr(self.step, cfg.steps, cfg.lr)
        for group in self.opt_g.param_groups:
            group["lr"] = lr
        content = photos.sample(cfg.batch_size, self.rng).to(self.device)
        use_d = cfg.adversarial_weight > 0

        # Generator step; the discriminator is frozen.
        set_requires_grad(self.discriminator, False)
        self.opt_g.zero_grad(set_to_none=True)
        generated = self.generator(content)
        feats = self.features(generated)
        content_feats = None
        if self.features.content_layers:
            with torch.no_grad():
                content_feats = self.features(content)
        l_content = self.content_loss(generated, content, feats, content_feats)
        l_style = (self.style_loss(feats) if self.style_loss is not None
                   else generated.new_zeros(()))
        l_tv = total_variation(generated)
        fake_crops = self._crops_of(generated) if use_d else None
        l_adv_g = (self.adversarial.generator(self.discriminator(fake_crops))
                   if fake_crops is not None else generated.new_zeros(()))
        total = (cfg.content_weight * l_content + cfg.style_weight * l_style
                 + cfg.tv_weight * l_tv + cfg.adversarial_weight * l_adv_g)
        self._update_generator(total)

        # Discriminator step: style crops are real, generated crops (detached) are fake.
        l_adv_d = 0.0
        if fake_crops is not None:
            l_adv_d = self._update_discriminator(self._style_crops(fake_crops.shape[0]),
                                                 fake_crops.detach())
        self.step += 1
        return StepLog(step=self.step, content=_value(l_content), style=_value(l_style),
                       tv=_value(l_tv), adv_g=_value(l_adv_g), adv_d=l_adv_d,
                       total=_value(total), lr=lr)

    def _paired_step(self, pairs: PairedImages) -> StepLog:
        """Paired mode: pixel + feature (+ style) + conditional adversarial loss."""
        cfg = self.config
        lr = one_cycle_lr(self.step, cfg.steps, cfg.lr)
        for group in self.opt_g.param_groups:
            group["lr"] = lr
        photos, targets = pairs.sample(cfg.batch_size, self.rng)
        photos, targets = photos.to(self.device), targets.to(self.device)
        use_d = cfg.adversarial_weight > 0

        set_requires_grad(self.discriminator, False)
        self.opt_g.zero_grad(set_to_none=True)
        generated = self.generator(photos)
        zero = generated.new_zeros(())
        l_pixel = torch.nn.functional.l1_loss(generated, targets)
        l_feature, l_style = zero, zero
        if cfg.feature_weight > 0 or self.style_loss is not None:
            feats = self.features(generated)
            if cfg.feature_weight > 0:
                with torch.no_grad():
                    target_feats = self.features(targets)
                l_feature = feature_matching(feats, target_feats, self.features.style_layers)
            if self.style_loss is not None:
                l_style = self.style_loss(feats)
        l_tv = total_variation(generated)
        places = self._crop_places(generated) if use_d else []
        if use_d:
            fake = self._crops_of(torch.cat([photos, generated], dim=1), places)
            l_adv_g = self.adversarial.generator(self.discriminator(fake))
        else:
            l_adv_g = zero
        total = (cfg.pixel_weight * l_pixel + cfg.feature_weight * l_feature
                 + cfg.style_weight * l_style + cfg.tv_weight * l_tv
                 + cfg.adversarial_weight * l_adv_g)
        self._update_generator(total)

        l_adv_d = 0.0
        if use_d:  # (photo, target) pairs are real, (photo, result) pairs fake
            l_adv_d = self._update_discriminator(
                self._crops_of(torch.cat([photos, targets], dim=1), places),
                self._crops_of(torch.cat([photos, generated.detach()], dim=1), places))
        self.step += 1
        return StepLog(step=self.step, content=0.0, style=_value(l_style), tv=_value(l_tv),
                       adv_g=_value(l_adv_g), adv_d=l_adv_d, total=_value(total), lr=lr,
                       pixel=_value(l_pixel), feature=_value(l_feature))

    def _update_generator(self, total: torch.Tensor) -> None:
        """Back-propagate the generator's total loss and step its optimiser."""
        if not torch.isfinite(total):
            raise TrainingError(f"the loss became {_value(total)} at step {self.step + 1}: lower "
                                "--lr or the loss weights and train again")
        total.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        self.opt_g.step()

    def _update_discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One discriminator step on ``real`` and (detached) ``fake`` crops; its loss."""
        set_requires_grad(self.discriminator, True)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss: torch.Tensor = self.adversarial.discriminator(self.discriminator(real),
                                                              self.discriminator(fake))
        d_loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        self.opt_d.step()
        return _value(d_loss)

    def _crop_places(self, images: torch.Tensor) -> list[tuple[int, int]]:
        """A random (top, left) of a ``crop``-pixel square per image of the batch."""
        side = self.crop
        h, w = images.shape[-2:]
        return [(int(self.rng.integers(h - side + 1)), int(self.rng.integers(w - side + 1)))
                for _ in range(images.shape[0])]

    def _crops_of(self, images: torch.Tensor,
                  places: list[tuple[int, int]] | None = None) -> torch.Tensor:
        side = self.crop
        if places is None:
            places = self._crop_places(images)
        return torch.stack([images[i, :, top:top + side, left:left + side]
                            for i, (top, left) in enumerate(places)])

    def _style_crops(self, count: int) -> torch.Tensor:
        crops = random_crops(self.styles, count=count, side=self.crop, rng=self.rng)
        return crops.to(self.device)

    # -- state ------------------------------------------------------------------------------
    def state(self) -> TrainingState:
        """Optimiser, discriminator and random-generator state for a checkpoint."""
        tensors: dict[str, torch.Tensor] = {"torch_rng": torch.get_rng_state()}
        for key, value in self.discriminator.state_dict().items():
            tensors[f"discriminator.{key}"] = value
        info = {
            "step": self.step,
            "opt_g": _flatten_optimizer("opt_g", self.opt_g, tensors),
            "opt_d": _flatten_optimizer("opt_d", self.opt_d, tensors),
            "numpy_rng": self.rng.bit_generator.state,
            "python_rng": _python_rng_state(),
        }
        return TrainingState(tensors=tensors, info=info)

    def restore(self, path: Path) -> None:
        """Continue from the checkpoint ``path`` (weights, optimisers, RNGs, step)."""
        loaded = load_generator(path)
        self.generator.load_state_dict(loaded.module.state_dict())
        self.generator.train()
        _, state = load_training_state(path)
        t, info = state.tensors, state.info
        prefix = "discriminator."
        self.discriminator.load_state_dict(
            {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)})
        _restore_optimizer("opt_g", self.opt_g, info["opt_g"], t)
        _restore_optimizer("opt_d", self.opt_d, info["opt_d"], t)
        self.rng.bit_generator.state = info["numpy_rng"]
        py = info["python_rng"]
        random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
        torch.set_rng_state(t["torch_rng"])
        self.step = int(info["step"])

    def save(self, path: Path, *, with_state: bool) -> Path:
        """Write a checkpoint of the generator (with the training state when asked)."""
        cfg = self.config
        return save_checkpoint(
            path, generator=self.generator, style=cfg.style_name, train_size=cfg.size,
            step=self.step, description=cfg.description, attribution=cfg.attribution,
            license=cfg.license, config=cfg.to_dict(),
            state=self.state() if with_state else None, shapes=self.shapes)
