"""The bundled-styles recipe finds the package's styles folder, also outside a source checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import restyle
from restyle.styles import styles_dir
from restyle.training.bundled import default_styles_dir


def test_default_styles_dir_is_the_packages_styles_folder() -> None:
    folder = default_styles_dir()
    assert folder == styles_dir().resolve()
    assert (folder / "sunset.onnx").is_file()


def test_default_styles_dir_in_an_installed_copy(tmp_path: Path) -> None:
    """A plain copy of the package (as a wheel installs it, no ``training/`` beside ``sdk/``)."""
    site = tmp_path / "site"
    shutil.copytree(Path(restyle.__file__).parent, site / "restyle", symlinks=False)
    code = ("import restyle, restyle.training.bundled as b; "
            "print(restyle.__file__); print(b.default_styles_dir())")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    assert Path(out[0]).is_relative_to(site)
    assert Path(out[1]) == (site / "restyle" / "styles").resolve()
