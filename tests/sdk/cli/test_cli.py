from __future__ import annotations

import json
import subprocess
import sys

import pytest

from restyle.cli.main import main


def test_python_m_restyle_version() -> None:
    out = subprocess.run([sys.executable, "-m", "restyle", "--version"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.startswith("restyle ")


def test_info_lists_versions_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for name in ("restyle", "python", "numpy", "onnxruntime", "openvino", "torch", "tensorrt",
                 "gpus", "cache"):
        assert name in rows
    assert "CPUExecutionProvider" in rows["onnxruntime"]["detail"]
    for row in rows.values():  # every missing piece says why
        assert row["version"] or row["missing_reason"]


def test_info_on_a_non_model_is_a_clean_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.onnx"
    bogus.write_text("this is not a model")
    assert main(["info", str(bogus)]) == 2
    assert "not an ONNX model" in capsys.readouterr().err


def test_no_command_shows_help() -> None:
    assert main([]) == 2
