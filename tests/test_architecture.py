"""docs/architecture.md is a map that stays true: every file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
FOLDERS = [ROOT / "sdk", ROOT / "export", ROOT / "training", ROOT]


def _exists(name: str) -> bool:
    """``name`` as a path under a package folder, or directly inside one of its subpackages."""
    if any((folder / name).exists() for folder in FOLDERS):
        return True
    return "/" not in name and any(p.name == name for p in (ROOT / "sdk").glob("*/*.py"))


def test_every_file_on_the_map_exists() -> None:
    text = DOC.read_text()
    names = set(re.findall(r"[\w/]+\.py\b", text)) | set(re.findall(r"\b[\w]+/(?=[\s`|)])", text))
    assert len(names) > 30
    missing = sorted(n for n in names if not _exists(n))
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_readme_layout_points_to_the_map() -> None:
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
