"""Losses, feature networks and the discriminator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from restyle.errors import ConfigError, TrainingError
from restyle.training.discriminator import PatchDiscriminator, set_requires_grad
from restyle.training.features import RandomFeatures, VGGFeatures, create_features
from restyle.training.losses import (
    AdversarialLoss,
    ContentLoss,
    StyleLoss,
    gram_matrix,
    total_variation,
)


def test_gram_is_normalised_by_size() -> None:
    f = torch.ones(1, 2, 4, 4)
    assert torch.allclose(gram_matrix(f), torch.ones(1, 2, 2))
    assert torch.allclose(gram_matrix(torch.ones(1, 2, 8, 8)), gram_matrix(f))


def test_style_loss_zero_on_the_style_itself() -> None:
    net = RandomFeatures(seed=0)
    style = torch.rand(3, 32, 32)
    loss = StyleLoss.from_images(net, [style])
    assert float(loss(net(style[None]))) == pytest.approx(0.0, abs=1e-10)
    assert float(loss(net(torch.rand(1, 3, 32, 32)))) > 0


def test_style_targets_average_several_images() -> None:
    net = RandomFeatures(seed=0)
    a, b = torch.rand(3, 32, 32), torch.rand(3, 48, 48)
    both = StyleLoss.from_images(net, [a, b])
    la, lb = StyleLoss.from_images(net, [a]), StyleLoss.from_images(net, [b])
    for name in both.layers:
        mean = (getattr(la, f"target_{name}") + getattr(lb, f"target_{name}")) / 2
        assert torch.allclose(getattr(both, f"target_{name}"), mean)


def test_luminance_content_loss_ignores_colour_and_brightness() -> None:
    loss = ContentLoss(())
    x = torch.rand(2, 3, 32, 32)
    gray = x.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    assert float(loss(0.5 * gray + 0.2, gray, {}, None)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(torch.rand(2, 3, 32, 32), gray, {}, None)) > 0.5


def test_content_block_sets_the_scale_the_layout_is_kept_at() -> None:
    """A pattern finer than the block is free; the layout at the block's scale is not."""
    photo = torch.rand(1, 3, 64, 64)
    checker = (torch.arange(64)[:, None] // 4 + torch.arange(64)[None, :] // 4) % 2
    redrawn = photo + 0.3 * (checker.float() - 0.5)  # a 4-px pattern over the same layout
    fine, coarse = ContentLoss((), block=2), ContentLoss((), block=16)
    assert float(coarse(redrawn, photo, {}, None)) < 0.01 < float(fine(redrawn, photo, {}, None))
    flipped = photo.flip(-1)  # the layout itself moved
    assert float(coarse(flipped, photo, {}, None)) > 0.5


@pytest.mark.parametrize("stages", [3, 4, 5])
def test_discriminator_patch_size_follows_its_stages(stages: int) -> None:
    """The documented receptive field (5·2^stages − 2 px) is what one logit's gradient sees."""
    d = PatchDiscriminator(width=4, stages=stages)
    x = torch.rand(1, 3, 384, 384, requires_grad=True)
    logits = d(x)
    middle = logits.shape[-1] // 2
    logits[0, 0, middle, middle].backward()
    assert x.grad is not None
    seen = (x.grad.abs().sum(dim=(0, 1)) > 0).nonzero()
    assert int(seen[:, 0].max() - seen[:, 0].min()) + 1 == 5 * 2**stages - 2


def test_feature_content_loss() -> None:
    net = VGGFeatures("vgg16").freeze()
    loss = ContentLoss(net.content_layers)
    x = torch.rand(1, 3, 32, 32)
    fx = net(x)
    assert float(loss(x, x, fx, fx)) == 0.0
    assert float(loss(x, x, net(torch.rand(1, 3, 32, 32)), fx)) > 0


def test_total_variation() -> None:
    assert float(total_variation(torch.ones(1, 3, 8, 8))) == 0.0
    checker = (torch.arange(8)[None, :] + torch.arange(8)[:, None]) % 2
    assert float(total_variation(checker.float().expand(1, 3, 8, 8))) == pytest.approx(2.0)


@pytest.mark.parametrize("kind", ["hinge", "nonsaturating", "lsgan"])
def test_adversarial_losses_reward_the_right_side(kind: str) -> None:
    loss = AdversarialLoss(kind)
    confident = loss.discriminator(torch.full((4, 1), 3.0), torch.full((4, 1), -3.0))
    fooled = loss.discriminator(torch.full((4, 1), -3.0), torch.full((4, 1), 3.0))
    assert float(confident) < float(fooled)
    # The generator wants its fakes judged real (a high logit).
    assert float(loss.generator(torch.full((4, 1), 3.0))) < float(
        loss.generator(torch.full((4, 1), -3.0)))


def test_nonsaturating_is_minus_log_d() -> None:
    logits = torch.tensor([[0.3], [-1.2]])
    expected = -torch.log(torch.sigmoid(logits)).mean()
    assert torch.allclose(AdversarialLoss("nonsaturating").generator(logits), expected)


def test_unknown_adversarial_loss() -> None:
    with pytest.raises(ConfigError, match="hinge"):
        AdversarialLoss("wasserstein")


def test_discriminator_frozen_gets_no_gradient() -> None:
    d = PatchDiscriminator(width=4)
    set_requires_grad(d, False)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    d(x).mean().backward()
    assert x.grad is not None
    assert all(p.grad is None for p in d.parameters())
    set_requires_grad(d, True)
    assert all(p.requires_grad for p in d.parameters())


def test_random_features_are_seeded_and_frozen() -> None:
    a, b, c = RandomFeatures(seed=1), RandomFeatures(seed=1), RandomFeatures(seed=2)
    x = torch.rand(1, 3, 32, 32)
    assert all(torch.equal(a(x)[k], b(x)[k]) for k in a.style_layers)
    assert not torch.equal(a(x)[a.style_layers[0]], c(x)[c.style_layers[0]])
    assert not any(p.requires_grad for p in a.parameters())


def test_vgg_layout_matches_torchvision_names() -> None:
    net = VGGFeatures("vgg19")
    names = set(net.state_dict())
    assert "features.0.weight" in names and "features.28.weight" in names  # conv5_1


def test_vgg_weights_from_a_file(tmp_path: Path) -> None:
    source = VGGFeatures("vgg16")
    path = tmp_path / "vgg16-397923af.pth"
    torch.save({**source.state_dict(), "classifier.0.weight": torch.zeros(1)}, path)
    loaded = VGGFeatures("vgg16").load_torchvision(path)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded(x)["relu4_3"], source(x)["relu4_3"])


def test_vgg_unreachable_names_the_three_ways_and_random(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    import socket

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)  # no download either
    with pytest.raises(TrainingError) as info:
        create_features("vgg16")
    message = str(info.value)
    for hint in ("--vgg-weights", "torch hub cache", "download", "--features random"):
        assert hint in message


def test_bad_vgg_file(tmp_path: Path) -> None:
    path = tmp_path / "vgg16.pth"
    path.write_text("nope")
    with pytest.raises(TrainingError, match="cannot read VGG weights"):
        VGGFeatures("vgg16").load_torchvision(path)
