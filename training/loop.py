"""The training loop: ``train(config)`` turns style images (or example pairs, ``config.pairs``)
into a feed-forward generator.

The step itself is :meth:`restyle.training.step.TrainingRun.train_step`. A run folder holds
``checkpoints/step_N.safetensors`` (+ ``.json`` and ``.state.safetensors``),
``previews/step_N.png``, ``log.jsonl`` (losses per step) and, at the end,
``generator.safetensors``. Ctrl-C finishes the
current step, writes a checkpoint and stops; ``train(config, resume=True)`` (``restyle train
--resume RUN_DIR``) continues from the newest checkpoint and, for a fixed seed, reproduces the
losses of an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import torch

from restyle.errors import TrainingError
from restyle.paths import atomic_output, remove_stale_temps
from restyle.progress import Progress
from restyle.shapes import ShapeMap, ShapePainter
from restyle.training.checkpoint import CHECKPOINT_DIR, FINAL_NAME, find_checkpoint
from restyle.training.config import TrainConfig
from restyle.training.preview import write_preview
from restyle.training.step import StepLog, TrainingRun

__all__ = ["TrainResult", "load_run_config", "train"]

log = logging.getLogger("restyle.training")

CONFIG_NAME = "config.json"
LOG_NAME = "log.jsonl"


@dataclass(frozen=True)
class TrainResult:
    """Where a finished run left its generator."""

    run_dir: Path
    generator: Path
    steps: int
    last: StepLog | None
    seconds_per_step: float


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
    with _torch_threads(config.threads):
        return _train(config, resume=resume, progress=progress, on_step=on_step)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` CPU threads in PyTorch for the duration, then restore the setting."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(config: TrainConfig, *, resume: bool, progress: bool,
           on_step: Callable[[StepLog], None] | None) -> TrainResult:
    run_dir = config.out
    config_path = run_dir / CONFIG_NAME
    log_path = run_dir / LOG_NAME
    start = find_checkpoint(run_dir, resumable=True) if resume else None
    if resume and start is None and not config_path.is_file():
        raise TrainingError(f"nothing to resume in {run_dir}: start a run there without --resume")
    if not resume and (config_path.is_file() or (run_dir / FINAL_NAME).is_file()):
        raise TrainingError(f"{run_dir} already holds a training run: continue it with "
                            f"`restyle train --resume {run_dir}` or choose another --out")
    for folder in (run_dir, run_dir / CHECKPOINT_DIR):  # temporaries of a killed run
        remove_stale_temps(folder)
    run = TrainingRun(config)
    if start is not None:
        run.restore(start)
        log.info("resuming %s from step %d", run_dir, run.step)
    _rewrite_log(log_path, run.step)
    if not config_path.is_file():
        with atomic_output(config_path) as tmp:
            tmp.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
    targets: torch.Tensor | None = None
    if run.pairs is not None:
        previews, targets = run.pairs.fixed_pairs(4)
        previews = previews.to(run.device)
    else:
        previews = run.content.fixed(4).to(run.device)
    # previews show what the export will: the network's colours painted into the style's shapes
    painter = ShapePainter(ShapeMap.from_text(run.shapes)) if run.shapes else None
    paint = None if painter is None else (
        lambda out, photo: painter.paint(out, guide=photo))
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
                bar.set_postfix(
                    (f"pixel {last.pixel:.3f} feature {last.feature:.3f} "
                     if run.pairs is not None
                     else f"content {last.content:.3f} ")
                    + f"style {last.style:.3f} adv {last.adv_g:.2f}/{last.adv_d:.2f}")
                bar.update(1)
                if config.preview_every and run.step % config.preview_every == 0:
                    write_preview(run_dir / "previews" / f"step_{run.step:06d}.png",
                                  run.generator, previews, run.styles, targets, paint=paint)
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
    write_preview(run_dir / "previews" / "final.png", run.generator, previews, run.styles,
                  targets, paint=paint)
    per_step = timed_seconds / timed_steps if timed_steps else float("nan")
    if timed_steps:
        log.info("trained %d steps (%.2f s/step): %s", run.step, per_step, final)
    else:  # a resumed run that had already finished
        log.info("the run had already trained its %d steps: %s", run.step, final)
    return TrainResult(run_dir=run_dir, generator=final, steps=run.step, last=last,
                       seconds_per_step=per_step)
