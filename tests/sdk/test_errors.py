from __future__ import annotations

import pytest

from restyle import errors
from restyle._optional import require


def test_every_error_is_a_restyle_error_and_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.RestyleError)
        assert name in doc, f"{name} missing from the tree in restyle.errors' docstring"


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidImageError, ValueError),
        (errors.ModelFormatError, ValueError),
        (errors.DependencyError, ImportError),
        (errors.OutOfMemoryError, MemoryError),
        (errors.OutputError, OSError),
    ],
)
def test_errors_subclass_the_matching_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, builtin)


def test_missing_dependency_names_the_extra() -> None:
    with pytest.raises(errors.DependencyError, match=r"restyle\[gpu\]"):
        require("pycuda.definitely_missing_module")
    with pytest.raises(errors.DependencyError, match="pip install"):
        require("restyle_no_such_module")
