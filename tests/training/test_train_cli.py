"""``restyle train`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def test_preset_fills_what_is_not_given(style_image: Path, content_dir: Path,
                                        tmp_path: Path) -> None:
    from restyle.training.presets import PRESETS

    run_dir = tmp_path / "run"
    assert main(["-q", "train", "--preset", "johnson2016", "--style", str(style_image),
                 "--content", str(content_dir), "--features", "random", "--arch", "compact",
                 "--width", "4", "--blocks", "1", "--size", "32", "--style-size", "40",
                 "--batch-size", "1", "--steps", "2", "--out", str(run_dir)]) == 0
    saved = json.loads((run_dir / "config.json").read_text())
    preset = PRESETS["johnson2016"].settings
    for key in ("lr", "content_weight", "style_weight", "tv_weight", "adversarial_weight"):
        assert saved[key] == preset[key], key
    assert (saved["features"], saved["arch"], saved["size"], saved["style_size"],
            saved["steps"]) == ("random", "compact", 32, 40, 2)  # given explicitly: they win
    assert main(["-q", "train", "--preset", "gatys", "--style", str(style_image),
                 "--out", str(tmp_path / "r2")]) == 2


def test_bold_preset_trains_and_resumes_with_its_discriminator(
        style_image: Path, content_dir: Path, tmp_path: Path) -> None:
    """``--preset bold``: the photo kept at 16-px blocks, a 4-stage discriminator on 128-px
    crops (capped by the data); a resumed run restores that discriminator."""
    from safetensors import safe_open

    run_dir = tmp_path / "bold"
    args = ["-q", "train", "--preset", "bold", "--style", str(style_image), "--content",
            str(content_dir), "--width", "4", "--blocks", "1", "--size", "64", "--batch-size",
            "1", "--steps", "2", "--checkpoint-every", "1", "--preview-every", "0",
            "--out", str(run_dir)]
    assert main(args) == 0
    saved = json.loads((run_dir / "config.json").read_text())
    assert (saved["content_block"], saved["discriminator_stages"],
            saved["adversarial_weight"]) == (16, 4, 2.0)
    state = sorted((run_dir / "checkpoints").glob("*.state.safetensors"))[-1]
    with safe_open(str(state), "pt") as f:
        names = f.keys()
        convs = {k.split(".")[2] for k in names
                 if k.startswith("discriminator.net.") and k.endswith("weight.original")}
    assert len(convs) == 5  # four stride-2 stages and the logit layer
    (run_dir / "generator.safetensors").unlink()
    for checkpoint in sorted((run_dir / "checkpoints").glob("step_000002.*")):
        checkpoint.unlink()  # back to step 1: the resume trains step 2 again
    assert main(["-q", "train", "--resume", str(run_dir)]) == 0
    assert (run_dir / "generator.safetensors").exists()
    assert main(["-q", "train", "--preset", "bold", "--features", "vgg16", "--style",
                 str(style_image), "--out", str(tmp_path / "vgg")]) == 2  # block is random-only


def test_weights_path_stored_absolute_so_resume_works_elsewhere(
        style_image: Path, content_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from restyle.training.features import VGGFeatures

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    torch.save(VGGFeatures("vgg16").state_dict(), work / "vgg16-397923af.pth")
    monkeypatch.chdir(work)
    args = ["-q", "train", "--style", str(style_image), "--content", str(content_dir),
            "--features", "vgg16", "--vgg-weights", "vgg16-397923af.pth", "--arch", "compact",
            "--width", "4", "--blocks", "1", "--size", "32", "--batch-size", "1", "--steps", "4",
            "--checkpoint-every", "2", "--out", "run"]
    assert main(args) == 0
    saved = json.loads((work / "run" / "config.json").read_text())
    assert saved["vgg_weights"] == str(work / "vgg16-397923af.pth")
    (work / "run" / "generator.safetensors").unlink()  # as if stopped before the end
    monkeypatch.chdir(elsewhere)
    assert main(["-q", "train", "--resume", str(work / "run")]) == 0


def test_style_weight_default_is_40_and_10_in_paired_mode(style_image: Path, content_dir: Path,
                                                         tmp_path: Path) -> None:
    from restyle.training.effects import write_effect_pairs

    tiny = ["--arch", "compact", "--width", "4", "--blocks", "1", "--size", "32",
            "--batch-size", "1", "--steps", "1"]
    assert main(["-q", "train", "--style", str(style_image), "--content", str(content_dir),
                 *tiny, "--out", str(tmp_path / "style")]) == 0
    assert json.loads((tmp_path / "style" / "config.json").read_text())["style_weight"] == 40.0
    rng = np.random.default_rng(0)
    photos = {f"p{i}": (rng.random((48, 48, 3)) * 255).astype(np.uint8) for i in range(2)}
    write_effect_pairs(tmp_path / "pairs", effect="ink", photos=photos)
    assert main(["-q", "train", "--pairs", str(tmp_path / "pairs"), "--style", str(style_image),
                 *tiny, "--out", str(tmp_path / "paired")]) == 0
    assert json.loads((tmp_path / "paired" / "config.json").read_text())["style_weight"] == 10.0
    assert main(["-q", "train", "--pairs", str(tmp_path / "pairs"), "--style", str(style_image),
                 *tiny, "--style-weight", "3", "--out", str(tmp_path / "given")]) == 0
    assert json.loads((tmp_path / "given" / "config.json").read_text())["style_weight"] == 3.0


def test_shapes_travel_from_training_to_every_frame(tmp_path: Path, content_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``--shapes``: the style's cells are stored in the checkpoint, carried by the export (and
    its fp16 rewrite), and every frame the Stylizer returns is painted into them at the frame's
    own coordinates — a tiled frame as the same frame whole."""
    from restyle import Stylizer
    from restyle.export import to_onnx
    from restyle.export.fp16 import to_fp16
    from restyle.shapes import read_shapes
    from restyle.training.checkpoint import load_generator
    from restyle.training.procedural import draw_style

    style = tmp_path / "mosaic.png"
    draw_style("mosaic", seed=5, size=192).save(style)
    run_dir = tmp_path / "run"
    assert main(["-q", "train", "--style", str(style), "--shapes", "--content", str(content_dir),
                 "--width", "4", "--blocks", "1", "--size", "32", "--batch-size", "1",
                 "--steps", "1", "--preview-every", "0", "--out", str(run_dir)]) == 0
    assert load_generator(run_dir).shapes
    onnx_path = tmp_path / "m.onnx"
    to_onnx(run_dir, onnx_path, check_shapes=[(1, 32, 32)])
    shapes = read_shapes(onnx_path)
    assert shapes is not None and shapes.labels.shape == (192, 192) and shapes.gap_colour
    capsys.readouterr()
    assert main(["info", str(onnx_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shapes"] == shapes.count
    half = tmp_path / "m16.onnx"
    to_fp16(onnx_path, half)
    kept = read_shapes(half)
    assert kept is not None and np.array_equal(kept.labels, shapes.labels)

    frame = np.random.default_rng(0).integers(0, 256, (200, 230, 3), dtype=np.uint8)
    other = np.random.default_rng(1).integers(0, 256, (200, 230, 3), dtype=np.uint8)
    with Stylizer(onnx_path, backend="ort_cpu") as st:
        assert st.info.shapes == shapes.count
        whole = st(frame)
        first_frame, second_frame = st.stream([frame, other])  # a video's frames
    grout = shapes.labels == 0  # the same grout in both frames: shapes do not move (no flicker)
    assert np.array_equal(first_frame[:192, :192][grout], second_frame[:192, :192][grout])
    assert np.array_equal(first_frame, whole)
    with Stylizer(onnx_path, backend="ort_cpu", max_pixels=100 * 100, tile_size=96,
                  tile_overlap=16) as st:
        tiled = st(frame)
    labels, first = shapes.labels, whole[:192, :192]  # the frame's first placement of the tile
    assert np.array_equal(first[labels == 0], shapes.tile[labels == 0])  # the style's grout
    inside = first[labels == 7]
    assert np.abs(inside.astype(int) - inside[0]).max() <= 30  # a cell: one colour and grain
    assert np.abs(whole.astype(int) - tiled).mean() < 1.0
    assert main(["-q", "train", "--style", str(style), "--style", str(style), "--shapes",
                 "--out", str(tmp_path / "two")]) == 2  # shapes of one style image only
