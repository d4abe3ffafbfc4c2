"""Sizes checked where they enter, once: a generator's width and blocks (from the CLI, a
checkpoint or an ONNX file's metadata) and the training crop and batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from restyle.cli.main import main
from restyle.errors import ConfigError
from restyle.training.config import TrainConfig
from restyle.training.models import create_model, list_models


@pytest.mark.parametrize("arch", list_models())
@pytest.mark.parametrize("config", [{"width": 0}, {"width": -3}, {"width": 60000},
                                    {"blocks": -1}, {"blocks": 10**6}, {"width": "16"},
                                    {"width": 2.5}, {"width": True}])
def test_generator_sizes_are_bounded_before_any_weight_exists(arch: str,
                                                              config: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"generator (width|blocks)"):
        create_model(arch, **config)


@pytest.mark.parametrize("flags", [["--width", "0"], ["--width", "-3"], ["--size", "100000"],
                                   ["--size", "8"], ["--batch-size", "100000"],
                                   ["--blocks", "-2"]])
def test_train_cli_refuses_out_of_range_sizes_without_a_traceback(
        style_image: Path, tmp_path: Path, flags: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--style", str(style_image), "--steps", "1", "--out",
                 str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert flags[0].lstrip("-").replace("-", "_").split("_")[0] in err.replace("-", "_")


def test_train_config_bounds(tmp_path: Path, style_image: Path) -> None:
    with pytest.raises(ConfigError, match=r"outside 16\.\.4096"):
        TrainConfig(style=style_image, out=tmp_path, size=100000)
    with pytest.raises(ConfigError, match="style_size"):
        TrainConfig(style=style_image, out=tmp_path, style_size=10**6)


def test_discriminator_and_content_block_bounds(tmp_path: Path, style_image: Path) -> None:
    with pytest.raises(ConfigError, match=r"discriminator_stages must be 1\.\.6"):
        TrainConfig(style=style_image, out=tmp_path, discriminator_stages=9)
    with pytest.raises(ConfigError, match=r"content_block 80 is outside 1\.\.64"):
        TrainConfig(style=style_image, out=tmp_path, size=256, content_block=80)
    with pytest.raises(ConfigError, match="--features vgg16 does not use: pass --content-block 2"):
        TrainConfig(style=style_image, out=tmp_path, features="vgg16", content_block=16)
    with pytest.raises(ConfigError, match="crop must be at least 8"):
        TrainConfig(style=style_image, out=tmp_path, crop=4)
    config = TrainConfig(style=style_image, out=tmp_path, discriminator_stages=4)
    assert config.discriminator_crop == 128  # 2^(stages + 3) unless a crop is given
    assert TrainConfig(style=style_image, out=tmp_path, crop=96).discriminator_crop == 96


def test_shapes_need_exactly_one_style_image(tmp_path: Path, style_image: Path) -> None:
    with pytest.raises(ConfigError, match="2 style images"):
        TrainConfig(style=(style_image, style_image), out=tmp_path, shapes=True)
    with pytest.raises(ConfigError, match="--pairs"):
        TrainConfig(style=(style_image,), pairs=tmp_path, out=tmp_path, shapes=True)
    assert TrainConfig(style=(style_image,), out=tmp_path, shapes=True).shapes
