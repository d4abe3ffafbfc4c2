"""The training loop: ``train(config)`` turns style images into a feed-forward generator.

Each step (a CycleGAN-style ``optimize_parameters``):

1. the generator stylises a batch of content crops;
2. generator step, with the discriminator frozen: content + style + total-variation +
   adversarial loss;
3. discriminator step: random crops of the style image(s) (real) against random crops of the
   generated batch (fake, detached).

A run folder holds ``checkpoints/step_N.safetensors`` (+ ``.json`` and ``.state.safetensors``),
``previews/step_N.png``, ``log.jsonl`` (losses per step) and, at the end, ``generator.safetensors``.
Ctrl-C finishes the current step, writes a checkpoint and stops; ``train(config, resume=True)``
(``restyle train --resume RUN_DIR``) continues from the newest checkpoint and, for a fixed seed,
reproduces the losses of an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch

from restyle.errors import ConfigError, TrainingError
from restyle.paths import atomic_output
from restyle.progress import Progress
from restyle.training.checkpoint import (
    CHECKPOINT_DIR,
    FINAL_NAME,
    TrainingState,
    find_checkpoint,
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
from restyle.training.preview import write_preview

__all__ = [
    "StepLog",
    "TrainResult",
    "TrainingRun",
    "load_run_config",
    "one_cycle_lr",
    "resolve_device",
    "train",
]

log = logging.getLogger("restyle.training")

CONFIG_NAME = "config.json"
LOG_NAME = "log.jsonl"
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


@dataclass(frozen=True)
class TrainResult:
    """Where a finished run left its generator."""

    run_dir: Path
    generator: Path
    steps: int
    last: StepLog | None
    seconds_per_step: float


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


class _StopRequest:
    """Turns the first Ctrl-C into a request to stop after the current step; a second one
    interrupts at once. Only in the main thread (signals cannot be handled elsewhere)."""

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[_StopRequest]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: FrameType | None) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            log.warning("stopping after this step (Ctrl-C again to stop at once)")

        signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The configuration a run folder was started with (for ``--resume``).

    Raises:
        TrainingError: The folder holds no run.
    """
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise TrainingError(f"{run_dir} holds no training run ({CONFIG_NAME} missing): pass the "
                            "--out folder of an earlier `restyle train`")
    return TrainConfig.from_dict(json.loads(path.read_text()))


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


def _checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step_{step:06d}.safetensors"


def _prune(run_dir: Path, keep: int) -> None:
    folder = run_dir / CHECKPOINT_DIR
    weights = sorted(folder.glob("step_*[0-9].safetensors"))
    for old in weights[:-keep]:
        stem = old.name[: -len(".safetensors")]
        for p in (old, folder / f"{stem}.json", folder / f"{stem}.state.safetensors"):
            p.unlink(missing_ok=True)


def _rewrite_log(path: Path, upto: int) -> None:
    """Drop log lines after ``upto`` (steps done after the checkpoint a resume starts from)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= upto]
    with atomic_output(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept))


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[StepLog], None] | None = None,
) -> TrainResult:
    """Train a style generator; write checkpoints, previews and a loss log to ``config.out``.

    Args:
        config: What to train (see :class:`TrainConfig`).
        resume: Continue the run in ``config.out`` from its newest checkpoint.
        progress: Show a progress bar with the loss terms and steps/s on standard error.
        on_step: Called after every finished step with its losses. A ``KeyboardInterrupt``
            raised in it stops training like Ctrl-C does (a checkpoint is written first).

    Returns:
        The run folder, the final generator file, steps done and the last losses.

    Raises:
        TrainingError: Bad style or content images, unreachable VGG weights, an existing run in
            ``config.out`` without ``resume``, or a loss that became NaN.
        KeyboardInterrupt: On Ctrl-C, after writing a checkpoint.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> d = Path(tempfile.mkdtemp())
        >>> Image.effect_mandelbrot((64, 64), (-2, -1.5, 1, 1.5), 50).convert("RGB").save(
        ...     d / "art.png")
        >>> (d / "photos").mkdir()
        >>> Image.linear_gradient("L").convert("RGB").save(d / "photos" / "a.png")
        >>> cfg = TrainConfig(style=(d / "art.png",), content=d / "photos", out=d / "run",
        ...                   width=4, blocks=1, size=32, batch_size=1, steps=2)
        >>> train(cfg, progress=False).generator.name
        'generator.safetensors'
    """
    run_dir = config.out
    config_path = run_dir / CONFIG_NAME
    log_path = run_dir / LOG_NAME
    start = find_checkpoint(run_dir, resumable=True) if resume else None
    if resume and start is None and not config_path.is_file():
        raise TrainingError(f"nothing to resume in {run_dir}: start a run there without --resume")
    if not resume and (config_path.is_file() or (run_dir / FINAL_NAME).is_file()):
        raise TrainingError(f"{run_dir} already holds a training run: continue it with "
                            f"`restyle train --resume {run_dir}` or choose another --out")
    run = TrainingRun(config)
    if start is not None:
        run.restore(start)
        log.info("resuming %s from step %d", run_dir, run.step)
    _rewrite_log(log_path, run.step)
    if not config_path.is_file():
        with atomic_output(config_path) as tmp:
            tmp.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
    previews = run.content.fixed(4).to(run.device)
    last: StepLog | None = None
    timed_steps, timed_seconds = 0, 0.0
    stop = _StopRequest()
    in_step = False
    try:
        with stop.installed(), log_path.open("a") as log_file, Progress(
                total=config.steps, desc="train", unit="step", enabled=progress,
                initial=run.step) as bar:
            while run.step < config.steps:
                t0 = time.perf_counter()
                in_step = True
                last = run.train_step()
                in_step = False
                timed_steps, timed_seconds = timed_steps + 1, timed_seconds + (
                    time.perf_counter() - t0)
                log_file.write(json.dumps(last.as_dict()) + "\n")
                log_file.flush()
                bar.set_postfix(f"content {last.content:.3f} style {last.style:.3f} "
                                f"adv {last.adv_g:.2f}/{last.adv_d:.2f}")
                bar.update(1)
                if config.preview_every and run.step % config.preview_every == 0:
                    write_preview(run_dir / "previews" / f"step_{run.step:06d}.png",
                                  run.generator, previews, run.styles)
                if config.checkpoint_every and run.step % config.checkpoint_every == 0:
                    run.save(_checkpoint_path(run_dir, run.step), with_state=True)
                    _prune(run_dir, config.keep_checkpoints)
                if on_step is not None:
                    on_step(last)
                if stop.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        if not in_step:
            run.save(_checkpoint_path(run_dir, run.step), with_state=True)
            log.warning("interrupted after step %d: checkpoint written; continue with "
                        "`restyle train --resume %s`", run.step, run_dir)
        else:
            log.warning("interrupted inside step %d: continue from the last checkpoint with "
                        "`restyle train --resume %s`", run.step + 1, run_dir)
        raise
    run.save(_checkpoint_path(run_dir, run.step), with_state=True)
    _prune(run_dir, config.keep_checkpoints)
    final = run.save(run_dir / FINAL_NAME, with_state=False)
    write_preview(run_dir / "previews" / "final.png", run.generator, previews, run.styles)
    per_step = timed_seconds / timed_steps if timed_steps else float("nan")
    log.info("trained %d steps (%.2f s/step): %s", run.step, per_step, final)
    return TrainResult(run_dir=run_dir, generator=final, steps=run.step, last=last,
                       seconds_per_step=per_step)
