"""The uint8 NHWC image I/O around a generator, in PyTorch."""

from __future__ import annotations

import pytest
import torch
from export_helpers import TinyGenerator
from torch import nn

from restyle.errors import ConfigError
from restyle.export.wrapper import ImageIO, io_names, pad_to_multiple
from restyle.modelinfo import IO_FLOAT32_NCHW


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _NeedsMultiple(nn.Module):
    """Fails unless height and width are multiples of 4, like a two-stage encoder/decoder."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % 4 or x.shape[-1] % 4:
            raise ValueError(f"size {tuple(x.shape[-2:])} is not a multiple of 4")
        return x * 0.5


@pytest.mark.parametrize(("h", "w", "expected"), [(333, 517, (336, 520)), (64, 64, (64, 64)),
                                                   (5, 7, (8, 8))])
def test_pad_to_multiple(h: int, w: int, expected: tuple[int, int]) -> None:
    x = torch.rand(2, 3, h, w)
    padded = pad_to_multiple(x, 4)
    assert tuple(padded.shape[-2:]) == expected
    assert torch.equal(padded[..., :h, :w], x)  # the image itself is untouched
    if expected[0] > h:  # reflection: the first padded row mirrors the row above the last
        assert torch.equal(padded[..., h, :w], x[..., h - 2, :])


def test_identity_generator_round_trips_uint8_exactly() -> None:
    model = ImageIO(_Identity(), size_multiple=4).eval()
    image = torch.randint(0, 256, (2, 33, 47, 3), dtype=torch.uint8)
    out = model(image)
    assert out.dtype == torch.uint8
    assert torch.equal(out, image)


def test_output_size_equals_input_size_for_any_size() -> None:
    model = ImageIO(TinyGenerator(), size_multiple=4).eval()
    for shape in [(1, 333, 517, 3), (3, 37, 53, 3), (1, 64, 64, 3)]:
        with torch.inference_mode():
            out = model(torch.randint(0, 256, shape, dtype=torch.uint8))
        assert out.shape == shape and out.dtype == torch.uint8


def test_padding_makes_a_size_sensitive_generator_work() -> None:
    image = torch.randint(0, 256, (1, 333, 517, 3), dtype=torch.uint8)
    with pytest.raises(ValueError, match="multiple of 4"):
        ImageIO(_NeedsMultiple(), size_multiple=1)(image)
    out = ImageIO(_NeedsMultiple(), size_multiple=4)(image)
    assert torch.equal(out, torch.round(image.float() * 0.5).to(torch.uint8))


def test_clamps_and_rounds() -> None:
    class _Out(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 4.0 - 1.0  # values below 0 and above 1

    image = torch.tensor([[[[0, 50, 64], [100, 128, 255]]]], dtype=torch.uint8)  # 1×1×2×3
    out = ImageIO(_Out(), size_multiple=1)(image)
    expected = torch.clamp(torch.round((image.float() / 255 * 4 - 1) * 255), 0, 255)
    assert torch.equal(out, expected.to(torch.uint8))
    assert out.min() == 0 and out.max() == 255


def test_float32_nchw_variant() -> None:
    model = ImageIO(TinyGenerator(), size_multiple=4, io=IO_FLOAT32_NCHW).eval()
    with torch.inference_mode():
        out = model(torch.rand(2, 3, 37, 53))
    assert out.shape == (2, 3, 37, 53) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert io_names(IO_FLOAT32_NCHW) == ("input", "output")


def test_bad_layout_and_multiple() -> None:
    with pytest.raises(ConfigError, match="uint8_nhwc"):
        ImageIO(_Identity(), size_multiple=4, io="nhwc")
    with pytest.raises(ConfigError, match="size_multiple"):
        ImageIO(_Identity(), size_multiple=0)
