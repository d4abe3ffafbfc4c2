"""Fine-tuning: ``init_from`` starts from another run's generator, and refuses a mismatch."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from restyle.cli.main import main
from restyle.errors import ModelFormatError
from restyle.training import TrainConfig, load_generator, train
from restyle.training.step import TrainingRun


def _config(style: Path, content: Path, out: Path, **changes: Any) -> TrainConfig:
    base = TrainConfig(style=(style,), content=content, out=out, arch="compact", width=4,
                       blocks=1, size=32, batch_size=1, steps=4, crop=16, preview_every=0,
                       checkpoint_every=0, seed=3)
    return dataclasses.replace(base, **changes)


def test_init_from_loads_and_continues(style_image: Path, content_dir: Path,
                                       tmp_path: Path) -> None:
    first = train(_config(style_image, content_dir, tmp_path / "a"), progress=False)
    source = load_generator(first.generator).module.state_dict()
    config = _config(style_image, content_dir, tmp_path / "b", init_from=tmp_path / "a",
                     seed=9, steps=3)
    run = TrainingRun(config)
    start = run.generator.state_dict()
    assert all(torch.equal(start[k], source[k]) for k in source)
    fresh = TrainingRun(dataclasses.replace(config, init_from=None)).generator.state_dict()
    assert not all(torch.equal(fresh[k], source[k]) for k in source)
    assert run.opt_g.state_dict()["state"] == {}  # the optimiser starts fresh

    result = train(config, progress=False)
    assert result.steps == 3
    tuned = load_generator(result.generator).module.state_dict()
    assert not all(torch.equal(tuned[k], source[k]) for k in source)  # it kept training


@pytest.mark.parametrize(("arch", "width", "expected"), [
    ("compact", 8, r"holds a compact \(width=4, blocks=1\) generator, but this run trains compact "
                r"\(width=8, blocks=1\).*--arch compact --width 4 --blocks 1"),
    ("johnson", 4, r"holds a compact \(width=4, blocks=1\) generator, but this run trains johnson"),
])
def test_mismatched_architecture_is_refused(style_image: Path, content_dir: Path,
                                            tmp_path: Path, arch: str, width: int,
                                            expected: str) -> None:
    train(_config(style_image, content_dir, tmp_path / "a"), progress=False)
    config = _config(style_image, content_dir, tmp_path / "b", init_from=tmp_path / "a",
                     arch=arch, width=width)
    with pytest.raises(ModelFormatError, match=expected):
        train(config, progress=False)
    assert not (tmp_path / "b" / "config.json").exists()


def test_missing_init_checkpoint_is_clear(style_image: Path, content_dir: Path,
                                          tmp_path: Path) -> None:
    config = _config(style_image, content_dir, tmp_path / "b", init_from=tmp_path / "nope")
    with pytest.raises(ModelFormatError, match="does not exist"):
        train(config, progress=False)


def test_cli_init_from(style_image: Path, content_dir: Path, tmp_path: Path) -> None:
    common = ["--style", str(style_image), "--content", str(content_dir), "--arch", "compact",
              "--width", "4", "--blocks", "1", "--size", "32", "--batch-size", "1",
              "--steps", "2", "--threads", "1"]
    assert main(["-q", "train", *common, "--out", str(tmp_path / "a")]) == 0
    assert main(["-q", "train", *common, "--out", str(tmp_path / "b"),
                 "--init-from", str(tmp_path / "a" / "generator.safetensors")]) == 0
    assert main(["-q", "train", *common[:-6], "--width", "8", "--blocks", "1", "--size", "32",
                 "--steps", "2", "--out", str(tmp_path / "c"),
                 "--init-from", str(tmp_path / "a")]) == 2
