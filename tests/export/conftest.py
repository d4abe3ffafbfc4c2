"""Tiny real generators and one shared export of them, so the export tests take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from export_helpers import QUICK_SHAPES, TinyGenerator, make_tiny

from restyle.export.chain import ExportResult, to_onnx
from restyle.training.checkpoint import save_checkpoint
from restyle.training.models import create_model


@pytest.fixture(scope="session")
def tiny() -> TinyGenerator:
    return make_tiny()


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory, tiny: TinyGenerator) -> ExportResult:
    """The tiny generator exported once (FP32, uint8 NHWC) for every test that reads a file."""
    path = tmp_path_factory.mktemp("export") / "tiny.onnx"
    return to_onnx(tiny, path, style="tiny-test", description="a tiny test style",
                   attribution="random weights", license="CC0-1.0", train_size=64,
                   check_shapes=QUICK_SHAPES, seed=0)


@pytest.fixture(scope="session")
def tiny_onnx(tiny_export: ExportResult) -> Path:
    return tiny_export.path


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real training checkpoint of the compact architecture at width 4."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("run") / "generator.safetensors"
    return save_checkpoint(path, generator=create_model("compact", width=4, blocks=1),
                           style="mosaic", description="a test mosaic", train_size=128, step=7,
                           attribution="drawn by a test", license="CC-BY-4.0")
