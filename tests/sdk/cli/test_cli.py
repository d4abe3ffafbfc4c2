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


def test_a_closed_pipe_is_not_a_traceback() -> None:
    """`restyle pull --list | head -1`: the reader leaves early; restyle stops quietly."""

    proc = subprocess.Popen([sys.executable, "-m", "restyle", "pull", "--list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before restyle writes a byte
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_log_lines_follow_sys_stderr_when_the_host_swaps_it(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A notebook or pytest replaces sys.stderr after `restyle` set up its logging: the lines go
    to the current stream, never to the closed old one."""
    import io
    import logging

    from restyle.cli.main import _setup_logging

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    _setup_logging(0, False)
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("restyle.test").info("still heard")
    assert second.getvalue() == "still heard\n"  # not logging's "--- Logging error ---" report
