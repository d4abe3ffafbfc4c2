"""Images from and to bytes: ``decode_image`` with its pixel limit, ``encode_image``."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from serve_helpers import bomb_png, encode, photo

from restyle.errors import ImageTooLargeError, InvalidImageError
from restyle.images import decode_image, encode_image, load_image


def test_decode_round_trip_and_exif_orientation() -> None:
    img = photo((20, 30))
    assert np.array_equal(np.asarray(decode_image(encode(img))), img)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", exif=exif)
    assert decode_image(buf.getvalue()).size == (20, 30)  # upright: width and height swapped


def test_pixel_limit_is_checked_before_decoding() -> None:
    with pytest.raises(ImageTooLargeError, match="over the limit of 100"):
        decode_image(encode(photo((20, 30))), max_pixels=100)
    with pytest.raises(ImageTooLargeError):  # 30000² declared in a 70-byte file
        decode_image(bomb_png(), max_pixels=4096 * 4096)
    with pytest.raises(ImageTooLargeError):  # beyond Pillow's own limit, no limit of ours
        decode_image(bomb_png())


@pytest.mark.parametrize(("data", "match"), [(b"", "empty"), (b"not an image", "not an image"),
                                             (encode(photo((20, 30)))[:60], "corrupt")])
def test_bad_bytes_name_the_problem(data: bytes, match: str) -> None:
    with pytest.raises(InvalidImageError, match=match):
        decode_image(data, name="upload")


def test_encode_image_formats(tmp_path: object) -> None:
    rgba = Image.fromarray(np.dstack([photo((8, 8)), np.full((8, 8), 7, np.uint8)]))
    assert encode_image(rgba, "png")[:4] == b"\x89PNG"
    assert Image.open(io.BytesIO(encode_image(rgba, "PNG"))).mode == "RGBA"
    assert Image.open(io.BytesIO(encode_image(rgba, "JPEG"))).mode == "RGB"  # no alpha in JPEG
    assert encode_image(rgba, "WEBP")[8:12] == b"WEBP"


def test_load_image_still_names_the_file(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "broken.png"
    bad.write_bytes(b"junk")
    with pytest.raises(InvalidImageError, match=r"broken\.png"):
        load_image(bad)
