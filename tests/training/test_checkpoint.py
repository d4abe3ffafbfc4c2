"""Checkpoints: round trip, run folders, and every way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from restyle.errors import ModelFormatError
from restyle.paths import file_sha256
from restyle.training.checkpoint import (
    FINAL_NAME,
    TrainingState,
    checkpoint_paths,
    find_checkpoint,
    load_generator,
    load_training_state,
    save_checkpoint,
)
from restyle.training.models import create_model


def _save(path: Path, *, arch: str = "compact", step: int = 3,
          state: TrainingState | None = None) -> torch.nn.Module:
    torch.manual_seed(step)
    net = create_model(arch, width=4, blocks=1)
    save_checkpoint(path, generator=net, style="mosaic", description="a test mosaic",
                    train_size=64, step=step, attribution="drawn by a test", license="CC0-1.0",
                    config={"steps": 10}, state=state)
    return net


@pytest.mark.parametrize("arch", ["compact", "johnson"])
def test_round_trip(tmp_path: Path, arch: str) -> None:
    net = _save(tmp_path / "g.safetensors", arch=arch)
    loaded = load_generator(tmp_path / "g.safetensors")
    assert loaded.arch == arch
    assert loaded.arch_config == {"width": 4, "blocks": 1}
    assert (loaded.style, loaded.description, loaded.train_size, loaded.step) == (
        "mosaic", "a test mosaic", 64, 3)
    assert (loaded.attribution, loaded.license) == ("drawn by a test", "CC0-1.0")
    assert loaded.sha256 == file_sha256(tmp_path / "g.safetensors") and len(loaded.sha256) == 64
    assert loaded.path == tmp_path / "g.safetensors"
    assert not loaded.module.training
    net.eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.module(x), net(x))
    sidecar = json.loads((tmp_path / "g.json").read_text())
    assert sidecar["arch"] == arch and sidecar["config"] == {"steps": 10}
    assert sidecar["weights_sha256"] == loaded.sha256


def test_run_folder_prefers_final_then_newest_step(tmp_path: Path) -> None:
    ckpts = tmp_path / "checkpoints"
    _save(ckpts / "step_000002.safetensors", step=2)
    _save(ckpts / "step_000010.safetensors", step=10)
    assert load_generator(tmp_path).step == 10
    _save(tmp_path / FINAL_NAME, step=12)
    assert load_generator(tmp_path).step == 12


def test_incomplete_checkpoint_is_not_picked(tmp_path: Path) -> None:
    ckpts = tmp_path / "checkpoints"
    _save(ckpts / "step_000002.safetensors", step=2)
    _save(ckpts / "step_000004.safetensors", step=4)
    (ckpts / "step_000004.json").unlink()  # the sidecar is written last: this one is unfinished
    assert find_checkpoint(tmp_path) == ckpts / "step_000002.safetensors"


def test_training_state_round_trip(tmp_path: Path) -> None:
    state = TrainingState(tensors={"opt.m": torch.arange(5.0), "rng": torch.get_rng_state()},
                          info={"step": 7, "numpy": {"state": [1, 2]}})
    _save(tmp_path / "checkpoints" / "step_000007.safetensors", step=7, state=state)
    path = find_checkpoint(tmp_path, resumable=True)
    assert path is not None
    record, back = load_training_state(path)
    assert record["step"] == 7
    assert back.info == state.info
    assert torch.equal(back.tensors["opt.m"], state.tensors["opt.m"])
    assert torch.equal(back.tensors["rng"], state.tensors["rng"])


def test_final_model_cannot_be_resumed(tmp_path: Path) -> None:
    _save(tmp_path / FINAL_NAME)
    with pytest.raises(ModelFormatError, match="cannot be resumed"):
        load_training_state(tmp_path / FINAL_NAME)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="does not exist"):
        load_generator(tmp_path / "nothing.safetensors")


def test_empty_run_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="no checkpoint"):
        load_generator(tmp_path)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    _save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="truncated or corrupt"):
        load_generator(path)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    path.write_text("this is not a checkpoint")
    with pytest.raises(ModelFormatError):
        load_generator(path)


def test_foreign_safetensors_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFormatError, match="not a restyle checkpoint"):
        load_generator(path)


def _rewrite_metadata(path: Path, **changes: str) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    meta.update({f"restyle.{k}": v for k, v in changes.items()})
    save_file(tensors, str(path), metadata=meta)


def test_unknown_architecture_names_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    _save(path)
    _rewrite_metadata(path, arch="unet-xl")
    with pytest.raises(ModelFormatError, match=r"unet-xl.*compact, johnson"):
        load_generator(path)


def test_weights_not_matching_the_architecture(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    _save(path)
    _rewrite_metadata(path, arch_config=json.dumps({"width": 8, "blocks": 1}))
    with pytest.raises(ModelFormatError, match="does not match"):
        load_generator(path)


def test_sidecar_paths() -> None:
    weights, sidecar, state = checkpoint_paths("run/checkpoints/step_000001.safetensors")
    assert sidecar.name == "step_000001.json"
    assert state.name == "step_000001.state.safetensors"
    assert weights.parent == sidecar.parent == state.parent
