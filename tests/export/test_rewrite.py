"""The export's exact rewrite: upsample + 3×3 convolution folded into a transposed convolution."""

from __future__ import annotations

import pytest
import torch
from export_helpers import make_tiny
from torch import nn

from restyle.export.rewrite import UpsampleConvTranspose, fold_upsample_convs
from restyle.training.models import create_model


@pytest.mark.parametrize("padding", ["zeros", "reflect", "replicate"])
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (16, 9)])
def test_transposed_convolution_equals_upsample_then_conv(padding: str,
                                                          size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 5, 3, padding=1, padding_mode=padding)
    pair = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"), conv)
    x = torch.randn(2, 6, *size)
    with torch.no_grad():
        expected, got = pair(x), UpsampleConvTranspose(conv)(x)
    assert got.shape == expected.shape == (2, 5, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("arch", "pairs"), [("johnson", 2), ("compact", 2), ("realtime", 3)])
def test_every_architecture_folds_to_the_same_function(arch: str, pairs: int) -> None:
    torch.manual_seed(1)
    model = create_model(arch, width=4, blocks=1).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)  # weights unlike the initialisation
    folded, count = fold_upsample_convs(model)
    assert count == pairs
    assert not any(isinstance(m, nn.Upsample) for m in folded.modules())
    assert sum(isinstance(m, nn.Upsample) for m in model.modules()) == pairs  # original kept
    x = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), atol=2e-5, rtol=1e-4)


def test_separate_padding_layer_folds_too() -> None:
    tiny = make_tiny()
    folded, count = fold_upsample_convs(tiny)
    assert count == 2
    x = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), tiny(x), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("second", [
    nn.Conv2d(3, 3, 3, padding=1, stride=2),
    nn.Conv2d(3, 3, 5, padding=2),
    nn.Conv2d(3, 3, 3, padding=1, dilation=1, groups=3),
    nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular"),
    nn.Conv2d(3, 3, 3, padding=0),
])
def test_other_pairs_are_left_alone(second: nn.Conv2d) -> None:
    net = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"), second)
    assert fold_upsample_convs(net)[1] == 0
    bilinear = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="bilinear"),
                             nn.Conv2d(3, 3, 3, padding=1))
    assert fold_upsample_convs(bilinear)[1] == 0
    triple = nn.Sequential(nn.Upsample(scale_factor=3.0), nn.Conv2d(3, 3, 3, padding=1))
    assert fold_upsample_convs(triple)[1] == 0


def test_wrong_convolution_is_refused() -> None:
    with pytest.raises(ValueError, match="3×3"):
        UpsampleConvTranspose(nn.Conv2d(3, 3, 5, padding=2))
