"""``restyle train`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from restyle.cli.main import main


def test_describe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--describe", "--arch", "compact", "--width", "4", "--blocks", "1",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["arch"] == "compact" and d["config"] == {"width": 4, "blocks": 1}
    assert d["parameters"] > 0 and d["gflops_512"] > 0 and d["receptive_field"] > 3


def test_describe_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--describe", "--arch", "johnson", "--width", "4", "--blocks", "1"]) == 0
    out = capsys.readouterr().out
    assert "parameters" in out and "GFLOP" in out and "receptive field" in out


def test_train_and_resume(style_image: Path, content_dir: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    args = ["-q", "train", "--style", str(style_image), "--content", str(content_dir),
            "--arch", "compact", "--width", "4", "--blocks", "1", "--features", "random",
            "--size", "32", "--batch-size", "1", "--steps", "3", "--out", str(run_dir),
            "--tv-weight", "0.1"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "generator.safetensors")
    assert json.loads((run_dir / "config.json").read_text())["tv_weight"] == 0.1
    assert main(args) == 2  # the run exists: --resume is needed
    assert main(["-q", "train", "--resume", str(run_dir)]) == 0  # finished: nothing more to do


def test_user_errors_exit_2(tmp_path: Path) -> None:
    assert main(["-q", "train", "--out", str(tmp_path / "r")]) == 2  # no --style
    assert main(["-q", "train", "--style", str(tmp_path / "missing.png"),
                 "--out", str(tmp_path / "r")]) == 2
    assert main(["-q", "train", "--resume", str(tmp_path / "nothing")]) == 2
    assert main(["-q", "train", "--resume", str(tmp_path / "r"), "--style", "x.png"]) == 2
