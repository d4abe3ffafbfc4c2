"""One training run's state and its step: data, generator, losses, discriminator, optimisers.

Each step (a CycleGAN-style ``optimize_parameters``):

1. the generator stylises a batch of content crops;
2. generator step, with the discriminator frozen: content + style + total-variation +
   adversarial loss;
3. discriminator step: random crops of the style image(s) (real) against random crops of the
   generated batch (fake, detached).

Everything random draws from one seeded numpy generator (data, crops) and torch's global one
(initial weights), both saved in checkpoints, so a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restyle.errors import ConfigError, TrainingError
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
    load_style_image,
    random_crops,
)
from restyle.training.discriminator import PatchDiscriminator, set_requires_grad
from restyle.training.features import create_features
from restyle.training.losses import AdversarialLoss, ContentLoss, StyleLoss, total_variation
from restyle.training.models import Generator, create_model

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
        multiple = self.generator.size_multiple
        if config.size % multiple:
            raise ConfigError(f"size {config.size} is not a multiple of {multiple}, which "
                              f"{config.arch} needs: use {config.size // multiple * multiple}")
        style_side = config.style_size or config.size
        self.styles = [load_style_image(p, short_side=style_side) for p in config.style]
        self.content: ContentImages = (
            folder_content(config.content, size=config.size) if config.content is not None
            else builtin_content(size=config.size))
        self.features = create_features(config.features, seed=config.seed,
                                        vgg_weights=config.vgg_weights)
        self.content_loss = ContentLoss(self.features.content_layers)
        self.style_loss = StyleLoss.from_images(self.features, self.styles)
        self.adversarial = AdversarialLoss(config.adversarial_loss)
        self.discriminator = PatchDiscriminator()
        self.device = resolve_device(config.device)
        for module in (self.generator, self.features, self.style_loss, self.discriminator):
            module.to(self.device)
        self.crop = min(config.crop, config.size, style_side)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.d_lr,
                                      betas=_D_BETAS)
        self.step = 0

    # -- one step -------------------------------------------------------------------------
    def train_step(self) -> StepLog:
        """One generator step and one discriminator step; returns the named losses."""
        cfg = self.config
        lr = one_cycle_lr(self.step, cfg.steps, cfg.lr)
        for group in self.opt_g.param_groups:
            group["lr"] = lr
        content = self.content.sample(cfg.batch_size, self.rng).to(self.device)
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
        l_style = self.style_loss(feats)
        l_tv = total_variation(generated)
        fake_crops = self._crops_of(generated) if use_d else None
        l_adv_g = (self.adversarial.generator(self.discriminator(fake_crops))
                   if fake_crops is not None else generated.new_zeros(()))
        total = (cfg.content_weight * l_content + cfg.style_weight * l_style
                 + cfg.tv_weight * l_tv + cfg.adversarial_weight * l_adv_g)
        if not torch.isfinite(total):
            raise TrainingError(f"the loss became {_value(total)} at step {self.step + 1}: lower "
                                "--lr or the loss weights and train again")
        total.backward()
        self.opt_g.step()

        # Discriminator step: style crops are real, generated crops (detached) are fake.
        l_adv_d = 0.0
        if fake_crops is not None:
            set_requires_grad(self.discriminator, True)
            self.opt_d.zero_grad(set_to_none=True)
            real = self._style_crops(fake_crops.shape[0])
            d_loss: torch.Tensor = self.adversarial.discriminator(self.discriminator(real),
                                                    self.discriminator(fake_crops.detach()))
            d_loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            self.opt_d.step()
            l_adv_d = _value(d_loss)
        self.step += 1
        return StepLog(step=self.step, content=_value(l_content), style=_value(l_style),
                       tv=_value(l_tv), adv_g=_value(l_adv_g), adv_d=l_adv_d,
                       total=_value(total), lr=lr)

    def _crops_of(self, images: torch.Tensor) -> torch.Tensor:
        side = self.crop
        h, w = images.shape[-2:]
        out = []
        for i in range(images.shape[0]):
            top = int(self.rng.integers(h - side + 1))
            left = int(self.rng.integers(w - side + 1))
            out.append(images[i, :, top:top + side, left:left + side])
        return torch.stack(out)

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
            state=self.state() if with_state else None)
