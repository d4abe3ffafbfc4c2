"""Check restyle's layers where import-linter cannot look: imports by string.

The runtime core (package ``restyle`` without ``restyle.cli`` and ``restyle.bench``, which sit on
top) must not import ``restyle.training`` or ``restyle.export``. import-linter (contracts in
pyproject.toml) reads the static import graph; this script reads every runtime-core file's syntax
tree and also fails on

- ``import restyle.export...`` / ``from restyle.training... import`` anywhere (also in the
  package's own ``__init__``, which import-linter's contract cannot name alone),
- ``importlib.import_module("restyle.export...")``, ``__import__("restyle.training...")`` and
  ``find_spec``/``import_module`` calls whose first argument is such a string literal,
- and a runtime-core module that the import-linter contract does not list (so a new module is
  never outside the contract).

Usage: ``python tools/check_layers.py [ROOT]``; exits 1 and names file:line for each breach.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

FORBIDDEN = ("restyle.training", "restyle.export")
ON_TOP = ("cli", "bench")  # folders of sdk/ that may import anything
CALLS = {"import_module", "__import__", "find_spec", "reload"}
CONTRACT = "The runtime core imports neither restyle.training nor restyle.export"


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def breaches(path: Path) -> Iterator[tuple[int, str]]:
    """(line, what) for each forbidden import in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden(alias.name):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _forbidden(node.module):
                yield node.lineno, f"from {node.module} import ..."
            elif node.module == "restyle":
                for alias in node.names:
                    if alias.name in ("training", "export"):
                        yield node.lineno, f"from restyle import {alias.name}"
        elif isinstance(node, ast.Call) and _call_name(node.func) in CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) \
                    and _forbidden(first.value):
                yield node.lineno, f"{_call_name(node.func)}({first.value!r})"
            elif isinstance(first, ast.JoinedStr):
                text = "".join(v.value for v in first.values
                               if isinstance(v, ast.Constant) and isinstance(v.value, str))
                if _forbidden(text.rstrip(".")) or any(text.startswith(f + ".")
                                                       for f in FORBIDDEN):
                    yield node.lineno, f"{_call_name(node.func)}(f{text!r}...)"


def runtime_files(sdk: Path) -> list[Path]:
    return sorted(p for p in sdk.rglob("*.py")
                  if p.relative_to(sdk).parts[0] not in ON_TOP)


def unlisted_modules(root: Path) -> list[str]:
    """Runtime-core top-level modules missing from the import-linter contract's sources."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    sources = next(set(c["source_modules"]) for c in contracts if c["name"] == CONTRACT)
    sdk = root / "sdk"
    found = set()
    for entry in sdk.iterdir():
        name = entry.stem if entry.suffix == ".py" else entry.name
        if entry.name == "__init__.py" or name.startswith("__") or name in ON_TOP:
            continue
        if entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()):
            found.add(f"restyle.{name}")
    return sorted(found - sources)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    problems = []
    for path in runtime_files(root / "sdk"):
        for line, what in breaches(path):
            problems.append(f"{path.relative_to(root)}:{line}: the runtime core must not {what}")
    for module in unlisted_modules(root):
        problems.append(f"pyproject.toml: {module} is runtime core but not in the import-linter "
                        f"contract {CONTRACT!r}: add it to source_modules")
    for problem in problems:
        sys.stderr.write(problem + "\n")
    if not problems:
        sys.stdout.write("layers: the runtime core imports no training or export code, also not "
                         "by string\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
