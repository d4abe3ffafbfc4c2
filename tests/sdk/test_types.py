"""The public API's types tell the truth: mypy, run on a user's code, sees what comes back."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

USER_CODE = '''
from pathlib import Path
from typing import Any, assert_type

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from restyle import Stylizer
from restyle.images import ImageInput

def check(st: Stylizer, pil: Image.Image, u8: NDArray[np.uint8], f32: NDArray[np.float32],
          any_input: ImageInput) -> None:
    assert_type(st(pil), Image.Image)
    assert_type(st("photo.jpg"), Image.Image)
    assert_type(st(Path("photo.jpg")), Image.Image)
    assert_type(st(u8), NDArray[np.uint8])
    assert_type(st(f32, strength=0.5), NDArray[np.float32])
    assert_type(st(any_input), Image.Image | NDArray[Any])
    assert_type(st.stylize_batch([pil, pil]), list[Image.Image])
    assert_type(st.stylize_batch(["a.jpg", Path("b.png")]), list[Image.Image])
    assert_type(st.stylize_batch([u8, u8]), list[NDArray[np.uint8]])
    for out in st.stream(iter([u8])):
        assert_type(out, NDArray[np.uint8])
    for im in st.stream([pil]):
        assert_type(im, Image.Image)
'''


def test_overloads_give_pil_for_pil_and_paths_arrays_for_arrays(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    code = tmp_path / "user_code.py"
    code.write_text(textwrap.dedent(USER_CODE))
    out, err, status = api.run(["--strict", "--no-error-summary", "--cache-dir",
                                str(Path(".mypy_cache").resolve()), str(code)])
    assert status == 0, out + err
