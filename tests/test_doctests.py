"""Every docstring example in the package runs (``python -m doctest`` semantics, in CI).

The modules are imported by their real names (``restyle.*``), so registries and module state are
the ones the package uses; examples that need files, a GPU or minutes carry ``# doctest: +SKIP``
and still show the call. Modules whose optional dependency is missing here are skipped.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import restyle

_OPTIONAL = ("torch", "av", "ray", "openvino", "onnx", "matplotlib", "tensorrt", "cuda", "pycuda")


def _module_names() -> list[str]:
    names = ["restyle"]
    for info in pkgutil.walk_packages(restyle.__path__, "restyle."):
        if not info.name.endswith(".__main__"):  # importing one runs its command
            names.append(info.name)
    return sorted(names)


def _examples(module: ModuleType) -> int:
    finder = doctest.DocTestFinder(exclude_empty=True)
    return sum(len(t.examples) for t in finder.find(module, module.__name__))


@pytest.mark.parametrize("name", _module_names())
def test_docstring_examples_run(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in _OPTIONAL:
            pytest.skip(f"{name} needs {exc.name}, not installed here")
        raise
    if not _examples(module):
        pytest.skip("no examples")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
