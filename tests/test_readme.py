"""The README is the front door: every `restyle` command in it parses with the real CLI, and every
`make` target it names exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from restyle.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "benchmarks" / "README.md"]


def _shell_lines() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        if not doc.exists():
            continue
        text = doc.read_text()
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, flags=re.S):
            joined = block.replace("\\\n", " ")
            for line in joined.splitlines():
                code = line.split("#", 1)[0].strip()
                for part in code.split("&&"):
                    if part.strip():
                        found.append((doc.name, part.strip()))
    return found


COMMANDS = [(doc, cmd) for doc, cmd in _shell_lines() if cmd.startswith("restyle ")]


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_restyle_commands_parse(doc: str, command: str) -> None:
    argv = shlex.split(command)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on a bad command line
        pytest.fail(f"{doc}: `{command}` does not parse ({exc})")


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    used = {cmd.split()[1] for _, cmd in _shell_lines() if cmd.startswith("make ")}
    assert used, "the README names no make target"
    assert used <= targets, used - targets


def test_there_are_commands_to_check() -> None:
    assert len(COMMANDS) >= 5
