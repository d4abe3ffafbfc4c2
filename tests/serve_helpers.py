"""Helpers for the ``restyle serve`` tests: the server in its own process, images, tolerances."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from restyle.serve.process import ServerProcess, spawn_server

__all__ = ["ServerProcess", "assert_close", "bomb_png", "decode", "encode", "photo",
           "running_server", "wait_until"]

@contextmanager
def running_server(args: Sequence[str]) -> Iterator[ServerProcess]:
    """``restyle serve --port 0 ARGS`` on 127.0.0.1 in its own process, one CPU thread each."""
    with spawn_server(args, env={**os.environ, "OMP_NUM_THREADS": "1"}) as server:
        yield server


def photo(size: tuple[int, int], seed: int = 0) -> NDArray[np.uint8]:
    """A smooth colourful test image (H, W) with some edges: stylising it is not a no-op."""
    h, w = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(x / (7 + seed) + 0.3 * seed),
                     128 + 100 * np.cos(y / 9.0),
                     128 + 80 * np.sin((x + y) / 13.0)], axis=-1)
    noise = rng.normal(0, 6, base.shape)
    img = np.clip(base + noise, 0, 255).astype(np.uint8)
    img[h // 3: h // 2, w // 4: w // 2] = (240, 240, 40)
    return img


def encode(arr: NDArray[np.uint8], fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def decode(data: bytes) -> NDArray[np.uint8]:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares ``width × height`` pixels (a decompression bomb)."""
    data = bytearray(encode(np.zeros((1, 1, 3), np.uint8)))
    # IHDR starts at byte 8: length (4) + b"IHDR" (4) + width, height (4 + 4) ... + CRC.
    struct.pack_into(">II", data, 16, width, height)
    ihdr = bytes(data[12:29])
    struct.pack_into(">I", data, 29, zlib.crc32(ihdr))
    return bytes(data)


def assert_close(got: NDArray[np.uint8], want: NDArray[np.uint8], *, mean: float = 1.0,
                 worst: int = 12) -> None:
    """Equal up to what batch composition and lossless-vs-JPEG coding can change."""
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert float(diff.mean()) <= mean, f"mean difference {diff.mean():.3f} > {mean}"
    assert float(np.percentile(diff, 99.9)) <= worst, f"99.9th pct {np.percentile(diff, 99.9)}"


def wait_until(predicate: object, timeout: float = 60.0) -> bool:
    """Poll ``predicate()`` until true (False after ``timeout``: a hang, never a speed limit)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
