"""Request bodies in, images out: the size limit, multipart forms, decoding and encoding.

Decoding is :func:`restyle.images.decode_image` with the server's pixel limit (checked on the
declared size, before any pixel is decoded); the stylised image comes back through the same
post-processing and :func:`restyle.images.restore` as ``Stylizer``'s own results, so the server's
answer equals ``Stylizer(image, strength=..., preserve_color=...)`` for the same image.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from restyle import postprocess
from restyle.errors import InvalidImageError
from restyle.images import Prepared, decode_image, encode_image, prepare, restore

__all__ = ["FORMATS", "BodyReader", "OutputFormat", "TooLargeError", "decode", "finish"]

OutputFormat = Literal["png", "jpeg", "webp"]

#: Output format → (Pillow format, media type).
FORMATS: dict[str, tuple[str, str]] = {
    "png": ("PNG", "image/png"),
    "jpeg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
}

#: A body over the limit is still read (and dropped) up to this many times the limit, so the
#: client gets its 413 instead of a broken connection; beyond that the connection is closed.
_DRAIN_FACTOR = 4


class TooLargeError(Exception):
    """A request body over the upload limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"upload is over the limit of {limit:,} bytes (at least {size:,} sent): "
                         "send a smaller image")
        self.size = size
        self.limit = limit


class BodyReader:
    """Reads one request's body: at most ``limit`` bytes, and a multipart form's first file.

    When the answer is known before the body is read (503, 404, 413), :meth:`discard` reads and
    drops the rest (up to a few times the limit, for a few seconds), so the client receives the
    answer instead of a connection reset.
    """

    def __init__(self, request: Request, limit: int) -> None:
        self._request = request
        self._limit = limit
        self._done = False

    async def read(self) -> bytes:
        """The body (the file, for a multipart form).

        Raises:
            TooLargeError: More than ``limit`` bytes.
            InvalidImageError: A multipart form without a file.
        """
        request, limit = self._request, self._limit
        declared = request.headers.get("content-length", "")
        size = 0
        chunks: list[bytes] = []
        over = declared.isdigit() and int(declared) > limit
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                over = True
            if over:
                if size > _DRAIN_FACTOR * limit:
                    break
                continue
            chunks.append(chunk)
        else:
            self._done = True
        if over:
            raise TooLargeError(max(size, int(declared) if declared.isdigit() else 0), limit)
        body = b"".join(chunks)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            return await _first_file(request, body)
        return body

    async def discard(self, timeout: float = 5.0) -> None:
        """Read and drop what is left of the body (bounded in size and time)."""
        if self._done:
            return
        self._done = True
        size = 0
        try:
            async with asyncio.timeout(timeout):
                while size <= _DRAIN_FACTOR * self._limit:
                    message = await self._request.receive()
                    if message["type"] != "http.request":
                        return  # the client is gone
                    size += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return
        except TimeoutError:
            return  # the connection closes instead


async def _first_file(request: Request, body: bytes) -> bytes:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=16,
                             max_part_size=len(body) + 1)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidImageError(f"the multipart form cannot be read ({exc.message}): send one "
                                "file field, or the image bytes as the body") from exc
    try:
        for _, value in form.multi_items():
            if isinstance(value, UploadFile):
                return await value.read()
    finally:
        await form.close()
    raise InvalidImageError("the multipart form has no file: send the image as a file field "
                            "(curl -F image=@photo.jpg) or as the body (--data-binary)")


def decode(data: bytes, max_pixels: int) -> Prepared:
    """Decode an upload into the model's input (RGB uint8 plus what is needed to restore it).

    Raises:
        ImageTooLargeError: More than ``max_pixels`` pixels declared.
        InvalidImageError: Empty, not an image, or corrupt.
    """
    return prepare(decode_image(data, max_pixels=max_pixels))


def finish(output: NDArray[np.uint8], prepared: Prepared, *, strength: float,
           preserve_color: bool, fmt: str) -> bytes:
    """Post-process the model's output as ``Stylizer`` does and encode it as ``fmt``."""
    rgb = postprocess.apply(output, prepared.rgb, strength=strength, keep_color=preserve_color)
    image = restore(prepared, rgb)
    if not isinstance(image, Image.Image):  # pragma: no cover - decoded uploads are PIL
        image = Image.fromarray(np.asarray(image))
    return encode_image(image, FORMATS[fmt][0])
