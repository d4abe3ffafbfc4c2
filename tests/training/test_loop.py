"""The trainer: it learns, it resumes exactly, it stops cleanly, it refuses bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from restyle.errors import ConfigError, InvalidImageError, TrainingError
from restyle.training import TrainConfig, load_generator, load_run_config, train
from restyle.training.features import RandomFeatures
from restyle.training.losses import StyleLoss
from restyle.training.step import StepLog, one_cycle_lr


def _config(style: Path, content: Path, out: Path, **changes: Any) -> TrainConfig:
    base = TrainConfig(style=(style,), content=content, out=out, arch="compact", width=8,
                       blocks=1, size=32, batch_size=2, steps=6, crop=16, preview_every=3,
                       checkpoint_every=3, seed=5)
    return dataclasses.replace(base, **changes)


def _losses(run_dir: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def _style_loss_of(generator: torch.nn.Module, style: Path, content: torch.Tensor) -> float:
    from restyle.training.data import load_style_image

    net = RandomFeatures(seed=5)
    loss = StyleLoss.from_images(net, [load_style_image(style)])  # the scale training uses
    with torch.no_grad():
        return float(loss(net(generator(content))))


def test_training_halves_the_style_loss(style_image: Path, content_dir: Path,
                                        tmp_path: Path) -> None:
    config = _config(style_image, content_dir, tmp_path / "run", steps=40, preview_every=0,
                     checkpoint_every=0)
    from restyle.training.data import folder_content
    from restyle.training.models import create_model

    content = folder_content(content_dir, size=32).fixed(3)
    torch.manual_seed(config.seed)
    before = _style_loss_of(create_model("compact", width=8, blocks=1).eval(), style_image,
                            content)
    result = train(config, progress=False)
    after = _style_loss_of(load_generator(result.generator).module, style_image, content)
    assert result.steps == 40
    print(f"style loss before {before:.4f} after {after:.4f} ({after / before:.2f}×)")
    assert after < 0.5 * before, (before, after)


def test_run_folder_layout(style_image: Path, content_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    threads = torch.get_num_threads()
    result = train(_config(style_image, content_dir, run_dir, threads=2), progress=False)
    assert torch.get_num_threads() == threads  # restored after the run
    assert result.generator == run_dir / "generator.safetensors"
    for name in ("generator.json", "config.json", "log.jsonl", "previews/step_000003.png",
                 "previews/step_000006.png", "checkpoints/step_000006.safetensors",
                 "checkpoints/step_000006.json", "checkpoints/step_000006.state.safetensors"):
        assert (run_dir / name).is_file(), name
    with Image.open(run_dir / "previews" / "step_000006.png") as preview:
        assert preview.size == (32 * 4, 64)  # style + 3 photos, content row over output row
    log = _losses(run_dir)
    assert [row["step"] for row in log] == [1, 2, 3, 4, 5, 6]
    assert set(log[0]) >= {"content", "style", "tv", "adv_g", "adv_d", "total", "lr"}
    loaded = load_generator(run_dir)
    assert (loaded.arch, loaded.step, loaded.style, loaded.train_size) == ("compact", 6,
                                                                           "mosaic", 32)
    assert load_run_config(run_dir) == _config(style_image, content_dir, run_dir, threads=2)


def _interrupt_at(step: int):  # type: ignore[no-untyped-def]
    def on_step(entry: StepLog) -> None:
        if entry.step == step:
            raise KeyboardInterrupt

    return on_step


def test_resume_reproduces_the_uninterrupted_losses(style_image: Path, content_dir: Path,
                                                    tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    train(_config(style_image, content_dir, whole, checkpoint_every=0), progress=False)
    parts = tmp_path / "parts"
    config = _config(style_image, content_dir, parts, checkpoint_every=0)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C after step 4: a checkpoint is written
        train(config, progress=False, on_step=_interrupt_at(4))
    assert (parts / "checkpoints" / "step_000004.state.safetensors").is_file()
    assert not (parts / "generator.safetensors").exists()
    train(load_run_config(parts), resume=True, progress=False)
    a, b = _losses(whole), _losses(parts)
    assert [r["step"] for r in b] == [1, 2, 3, 4, 5, 6]
    for ra, rb in zip(a, b, strict=True):
        for key in ("content", "style", "tv", "adv_g", "adv_d", "total", "lr"):
            assert rb[key] == pytest.approx(ra[key], abs=1e-6), (ra["step"], key)
    ga, gb = load_generator(whole).module, load_generator(parts).module
    for (name, ta), tb in zip(ga.state_dict().items(), gb.state_dict().values(), strict=True):
        assert torch.allclose(ta, tb, atol=1e-6), name


def test_resume_after_a_crash_drops_steps_after_the_checkpoint(
    style_image: Path, content_dir: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    config = _config(style_image, content_dir, run_dir, steps=5, checkpoint_every=2)

    def crash(entry: StepLog) -> None:
        if entry.step == 3:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated"):
        train(config, progress=False, on_step=crash)
    assert [r["step"] for r in _losses(run_dir)] == [1, 2, 3]
    train(config, resume=True, progress=False)  # from step 2, the newest checkpoint
    assert [r["step"] for r in _losses(run_dir)] == [1, 2, 3, 4, 5]


def test_existing_run_needs_resume(style_image: Path, content_dir: Path, tmp_path: Path) -> None:
    config = _config(style_image, content_dir, tmp_path / "run", steps=1)
    train(config, progress=False)
    with pytest.raises(TrainingError, match="--resume"):
        train(config, progress=False)


def test_nothing_to_resume(style_image: Path, content_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="nothing to resume"):
        train(_config(style_image, content_dir, tmp_path / "empty"), resume=True,
              progress=False)


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16"])
def test_trains_on_other_image_modes(content_dir: Path, tmp_path: Path, mode: str,
                                     mosaic: np.ndarray) -> None:
    rgb = mosaic
    path = tmp_path / f"style-{mode.replace(';', '')}.png"
    if mode == "L":
        Image.fromarray(rgb).convert("L").save(path)
    elif mode == "RGBA":
        Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])).save(path)
    else:
        Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(path)
    result = train(_config(path, content_dir, tmp_path / "run", steps=2, preview_every=0),
                   progress=False)
    assert result.steps == 2 and np.isfinite(result.last.total if result.last else np.nan)


def test_bad_inputs_fail_before_training(style_image: Path, content_dir: Path,
                                         tmp_path: Path) -> None:
    text = tmp_path / "art.jpg"
    text.write_text("hello")
    with pytest.raises(InvalidImageError, match=r"art\.jpg"):
        train(_config(text, content_dir, tmp_path / "a"), progress=False)
    with pytest.raises(InvalidImageError, match="does not exist"):
        train(_config(tmp_path / "missing.png", content_dir, tmp_path / "b"), progress=False)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    with pytest.raises(TrainingError, match="at least"):
        train(_config(tiny, content_dir, tmp_path / "c"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no readable content images"):
        train(_config(style_image, tmp_path / "empty", tmp_path / "d"), progress=False)
    with pytest.raises(ConfigError, match="multiple of 4"):
        train(_config(style_image, content_dir, tmp_path / "e", size=30), progress=False)


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="style"):
        TrainConfig(style=(), out=Path("run"))
    with pytest.raises(ConfigError, match="feature"):
        TrainConfig(style=(Path("a.png"),), out=Path("run"), features="resnet")
    with pytest.raises(ConfigError, match="steps"):
        TrainConfig(style=(Path("a.png"),), out=Path("run"), steps=0)


def test_one_cycle_schedule() -> None:
    lrs = [one_cycle_lr(s, 100, 1e-3) for s in range(100)]
    assert lrs[0] == pytest.approx(4e-5)
    assert max(lrs) == pytest.approx(1e-3)
    assert lrs[-1] == pytest.approx(4e-9)
    assert lrs.index(max(lrs)) == 30


def test_ctrl_c_finishes_the_step_and_writes_a_checkpoint(
    style_image: Path, content_dir: Path, tmp_path: Path
) -> None:
    import signal

    run_dir = tmp_path / "run"

    def press_ctrl_c(entry: StepLog) -> None:
        if entry.step == 2:
            # What CPython does on SIGINT: call the installed handler in the main thread. A real
            # signal is not sent inside the test process: Ray's in-process tests leave a small
            # alternate signal stack behind, and on AVX-512 CPUs the C handler's first lazy
            # symbol lookup overflows it (gdb: SIGSEGV in _dl_runtime_resolve_xsavec under
            # trip_signal). `restyle train` gets a real SIGINT in tests/sdk/cli.
            handler = signal.getsignal(signal.SIGINT)
            assert callable(handler)
            handler(signal.SIGINT, None)

    with pytest.raises(KeyboardInterrupt):
        train(_config(style_image, content_dir, run_dir, checkpoint_every=0), progress=False,
              on_step=press_ctrl_c)
    assert (run_dir / "checkpoints" / "step_000002.state.safetensors").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    result = train(load_run_config(run_dir), resume=True, progress=False)
    assert result.steps == 6


def test_device_choice() -> None:
    from restyle.training.step import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_trains_with_a_vgg_loss_network(style_image: Path, content_dir: Path,
                                        tmp_path: Path) -> None:
    from restyle.training.features import VGGFeatures

    weights = tmp_path / "vgg16-397923af.pth"  # torchvision's layout, random weights
    torch.save(VGGFeatures("vgg16").state_dict(), weights)
    result = train(_config(style_image, content_dir, tmp_path / "run", features="vgg16",
                           vgg_weights=weights, steps=2, preview_every=0), progress=False)
    assert result.last is not None and result.last.content > 0 and result.last.style > 0


def test_restyle_train_stops_on_a_real_ctrl_c_and_names_resume(
    style_image: Path, content_dir: Path, tmp_path: Path
) -> None:
    """A real SIGINT to a `restyle train` process: it finishes its step, keeps a checkpoint,
    exits 130 and says how to continue."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "restyle", "-q", "train", "--style", str(style_image), "--content",
           str(content_dir), "--out", str(run_dir), "--arch", "compact", "--width", "8",
           "--blocks", "1", "--size", "32", "--batch-size", "2", "--steps", "100000",
           "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        log = run_dir / "log.jsonl"
        while not (log.is_file() and log.read_text().count("\n") >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no training step within 120 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert f"--resume {run_dir}" in err
    assert list((run_dir / "checkpoints").glob("step_*.state.safetensors"))
