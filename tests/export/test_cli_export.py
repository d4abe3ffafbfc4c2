"""``restyle export``: from a real checkpoint to a checked FP16 file, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from restyle.cli.main import EXIT_USER_ERROR, main
from restyle.export import inspect
from restyle.paths import file_sha256


def test_export_a_checkpoint_to_fp16(checkpoint: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mosaic.onnx"
    code = main(["export", str(checkpoint.parent), "--onnx", str(out), "--fp16",
                 "--check-shapes", "1x32x32,2x37x53", "--license", "CC0-1.0"])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    info = inspect(out)
    assert (info.style, info.arch, info.arch_config) == ("mosaic", "compact",
                                                         {"width": 4, "blocks": 1})
    assert (info.description, info.train_size, info.attribution) == (
        "a test mosaic", 128, "drawn by a test")
    assert info.license == "CC0-1.0"  # the command line overrides the checkpoint
    assert info.checkpoint_sha256 == file_sha256(checkpoint)
    assert info.precision == "fp16" and info.io == "uint8_nhwc"
    assert ("fp16 psnr" in stdout and "max 0 grey" in stdout) or "max 1 grey" in stdout
    assert main(["info", "--json", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoint_sha256"] == info.checkpoint_sha256


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    assert main(argv) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err


def test_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(["export", str(tmp_path / "nope"), "--onnx", str(tmp_path / "o.onnx")], capsys,
           "does not exist", "restyle train")
    assert not (tmp_path / "o.onnx").exists()


def test_corrupt_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "generator.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken" + bytes(100))
    _fails(["export", str(bad), "--onnx", str(tmp_path / "o.onnx")], capsys,
           "not a readable safetensors checkpoint")
    assert not (tmp_path / "o.onnx").exists()


def test_unknown_architecture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "alien.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"restyle.arch": "alien_net"})
    _fails(["export", str(path), "--onnx", str(tmp_path / "o.onnx")], capsys,
           "unknown generator architecture 'alien_net'", "compact", "johnson")


def test_unwritable_output(checkpoint: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _fails(["export", str(checkpoint), "--onnx", str(blocker / "o.onnx")], capsys,
           "cannot write", "writable output path")


def test_bad_options(checkpoint: Path, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "o.onnx")
    _fails(["export", str(checkpoint), "--onnx", out, "--engine", "x.engine"], capsys, "--trt")
    _fails(["export", str(checkpoint), "--onnx", out, "--check-shapes", "1x64"], capsys, "NxHxW")
    _fails(["export", str(checkpoint), "--onnx", out, "--trt", "--min", "8x256x256",
            "--opt", "4x720x1280"], capsys, "min ≤ opt ≤ max")
    assert not (tmp_path / "o.onnx").exists()


def test_export_with_a_triton_repository(checkpoint: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    repo = tmp_path / "repo"
    code = main(["export", str(checkpoint), "--onnx", str(tmp_path / "m.onnx"),
                 "--check-shapes", "1x32x32", "--triton", str(repo), "--triton-kind", "cpu"])
    assert code == 0, capsys.readouterr().err
    config = text_format.Parse((repo / "mosaic" / "config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size == 16
    assert [i.name for i in config.input] == ["image"]
    exported = (tmp_path / "m.onnx").read_bytes()
    assert (repo / "mosaic" / "1" / "model.onnx").read_bytes() == exported
