"""The house: one import name over three folders, no torch at import, a pinned public API."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import restyle

ROOT = Path(__file__).resolve().parents[1]
ROOMS = {"sdk": "restyle", "training": "restyle.training", "export": "restyle.export"}


def test_packages_in_pyproject_match_folders() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for folder, name in ROOMS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert declared == found


def test_rooms_share_one_import_name() -> None:
    import restyle.export
    import restyle.training

    assert Path(restyle.__file__).resolve().parent == (ROOT / "sdk").resolve()
    assert Path(restyle.training.__file__).resolve().parent == (ROOT / "training").resolve()
    assert Path(restyle.export.__file__).resolve().parent == (ROOT / "export").resolve()


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_import_restyle_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys, restyle, restyle.cli.main\n"
        "restyle.cli.main.build_parser()\n"
        "heavy = sorted(m for m in ('torch', 'onnx', 'av', 'openvino', 'tensorrt') "
        "if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = _python(code, tmp_path)  # from another directory: the installed package is found
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_public_api_is_pinned() -> None:
    expected = {
        "BackendError", "BackendUnavailableError", "ConfigError", "CudaError", "DependencyError",
        "EngineMismatchError", "ExportError", "InvalidImageError", "InvalidVideoError",
        "ModelFormatError", "ModelInfo", "OutOfMemoryError", "OutputError", "QualityGateError",
        "RestyleError",
        "Stylizer", "TrainingError", "__version__", "list_styles", "read_model_info",
    }
    assert set(restyle.__all__) == expected
    for name in restyle.__all__:
        assert hasattr(restyle, name), name


def test_license_files_present() -> None:
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "Apache-2.0"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci
    assert "make test" in readme and "make demo" in readme


def test_tests_mirror_the_package() -> None:
    """A test of a subpackage lives in the tests folder of that subpackage (tests/sdk/video/ for
    restyle.video, ...), not flat in tests/sdk/."""
    subpackages = {p.parent.name for p in (ROOT / "sdk").glob("*/__init__.py")}
    flat = [t.name for t in (ROOT / "tests" / "sdk").glob("test_*.py")
            if any(t.stem == f"test_{s}" or t.stem.startswith(f"test_{s}_") for s in subpackages)]
    assert not flat, f"move these into tests/sdk/<subpackage>/: {flat}"
    for sub in ("backends", "video", "cli", "cuda", "bench"):
        assert any((ROOT / "tests" / "sdk" / sub).glob("test_*.py")), sub
