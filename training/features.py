"""Feature networks for the perceptual losses: VGG16/VGG19 (pretrained) and a random one.

The VGG layer layout is written here (no torchvision); its weights are read from torchvision's
checkpoint files (``vgg16-397923af.pth``, ``vgg19-dcbb9e9d.pth``): a file you name, the torch hub
cache, or a download through ``torch.hub`` where the network allows it.

Without pretrained weights, ``random`` is a seeded random multi-scale shallow network after
Ustyuzhaninov et al. (ICLR 2017): one layer of random filters applied to the image at several
scales. The trade-off: it needs no download and trains on a CPU, and its Gram statistics carry a
style's palette and graphic treatment (posterised colours, coloured edges), but not its shapes —
cells, outlines and brush strokes need a pretrained VGG. Dark or sparse style images teach it to
darken everything; choose vivid, high-contrast, mid-brightness ones.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from restyle.errors import ConfigError, TrainingError

__all__ = [
    "VGG_FILES",
    "FeatureNetwork",
    "RandomFeatures",
    "VGGFeatures",
    "create_features",
    "load_torchvision_state",
]

log = logging.getLogger("restyle.training.features")

#: torchvision's ImageNet checkpoints: file name and URL.
VGG_FILES = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
_LAYOUT = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512),
}
# Johnson et al.: style at relu1_2 … relu4_3, content at relu2_2 (VGG16); Gatys et al.'s
# relu1_1 … relu5_1 for VGG19 with content at relu2_2 as well (cheap, keeps detail).
_LAYERS = {
    "vgg16": (("relu1_2", "relu2_2", "relu3_3", "relu4_3"), ("relu2_2",)),
    "vgg19": (("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), ("relu2_2",)),
}
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class FeatureNetwork(nn.Module):
    """A frozen network mapping RGB in [0, 1] to named feature maps.

    ``style_layers`` feed the Gram (style) loss; ``content_layers`` the content loss. An empty
    ``content_layers`` means the content loss works on luminance instead of features.
    """

    style_layers: tuple[str, ...] = ()
    content_layers: tuple[str, ...] = ()

    def freeze(self) -> FeatureNetwork:
        """No gradients for the weights, eval mode; returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()


def _vgg_names(layout: tuple[int | str, ...]) -> list[str]:
    names, block, conv = [], 1, 1
    for item in layout:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


class VGGFeatures(FeatureNetwork):
    """VGG16 or VGG19 ``features``, truncated after the last layer a loss needs.

    Parameter names match torchvision's (``features.N.weight``), so its checkpoints load as-is.
    Random weights until :meth:`load_torchvision` (useful only for tests).

    Example:
        >>> net = VGGFeatures("vgg16")
        >>> sorted(net(torch.rand(1, 3, 32, 32)))
        ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3']
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, arch: str = "vgg16") -> None:
        super().__init__()
        if arch not in _LAYOUT:
            raise ConfigError(f"unknown VGG {arch!r}: choose vgg16 or vgg19")
        self.arch = arch
        self.style_layers, self.content_layers = _LAYERS[arch]
        wanted = set(self.style_layers) | set(self.content_layers)
        names = _vgg_names(_LAYOUT[arch])
        last = max(names.index(n) for n in wanted)
        layers: list[nn.Module] = []
        channels = 3
        for item in _LAYOUT[arch]:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*layers[: last + 1])
        self._names = names[: last + 1]
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = (x - self.mean) / self.std
        wanted = set(self.style_layers) | set(self.content_layers)
        out: dict[str, torch.Tensor] = {}
        for name, layer in zip(self._names, self.features, strict=True):
            h = layer(h)
            if name in wanted:
                out[name] = h
        return out

    def load_torchvision(self, weights: str | Path | None = None) -> VGGFeatures:
        """Load torchvision's ImageNet weights: from ``weights``, the hub cache, or a download.

        Raises:
            TrainingError: None of the three ways gives the weights; the message names them and
                the offline option ``--features random``.
        """
        state = load_torchvision_state("VGG", VGG_FILES[self.arch], weights)
        ours = {k: v for k, v in state.items() if k.startswith("features.")
                and int(k.split(".")[1]) < len(self.features)}
        try:
            self.load_state_dict(ours, strict=True)
        except RuntimeError as exc:
            raise TrainingError(f"the {self.arch} weights do not fit the {self.arch} layout "
                                f"({exc}): pass torchvision's "
                                f"{VGG_FILES[self.arch].rsplit('/', 1)[1]}") from exc
        return self


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def load_torchvision_state(label: str, url: str,
                           weights: str | Path | None) -> dict[str, torch.Tensor]:
    """A torchvision checkpoint's state dict: from the file ``weights``, else the torch hub cache
    (the file name of ``url``), else a download of ``url``.

    Raises:
        TrainingError: None of the three ways gives the weights (the message names them and
            the offline option ``--features random``), or the file is unreadable.
    """
    filename = url.rsplit("/", 1)[1]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if weights is not None:
        return _read_torchvision(Path(weights), label)
    if cached.is_file():
        return _read_torchvision(cached, label)
    tried = [f"the torch hub cache has no {cached}"]
    try:
        with _socket_timeout(30.0):
            state: dict[str, torch.Tensor] = torch.hub.load_state_dict_from_url(
                url, progress=False, weights_only=True)
            return state
    except Exception as exc:  # URLError, timeouts, HTTP errors, ...
        tried.append(f"downloading {url} failed ({exc})")
    raise TrainingError(
        f"no {label} ImageNet weights reachable: {'; '.join(tried)}. Either pass "
        f"the torchvision checkpoint file ({filename}) with --vgg-weights FILE, put it in "
        f"{cached.parent} (the torch hub cache), or train online so torch.hub can "
        "download it; or train offline with --features random (weaker: palette and "
        "graphic treatment, not shapes)"
    )


def _read_torchvision(path: Path, label: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise TrainingError(f"{label} weights {path} do not exist: check the --vgg-weights path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, ...
        raise TrainingError(f"cannot read {label} weights {path} ({exc}): pass torchvision's "
                            f"checkpoint file (vgg16-397923af.pth, vgg19-dcbb9e9d.pth, "
                            "resnet50-0676ba61.pth)") from exc
    if not isinstance(state, dict):
        raise TrainingError(f"{path} is not a state dict: pass torchvision's {label} checkpoint")
    return state


class RandomFeatures(FeatureNetwork):
    """Seeded random multi-scale shallow features (Ustyuzhaninov et al., ICLR 2017).

    One convolution layer per filter size (default 3/5/7 px, 32 filters each): half of the
    filters zero-mean (edges, texture), half not (colour); each unit-norm, small random biases,
    ReLU. Applied to the image average-pooled by 2, 4 and 8: three maps of 96 channels.

    The defaults are the CPU budget: the published setting (3/5/7/11 px, 48/64/64/64 filters,
    pooling 1/2/4) took 5.1 s per step at 256×256 batch 4 on 2 cores, these 0.9 s. Fine detail
    below the first pooling is left to the generator and the discriminator, which sees
    full-resolution crops.

    Args:
        seed: Seeds the filters: the same seed gives the same network.
        kernel_sizes: Filter sizes.
        filters: Filters per size.
        scales: Average-pooling factors.

    Example:
        >>> net = RandomFeatures(seed=0)
        >>> {k: tuple(v.shape) for k, v in net(torch.rand(1, 3, 32, 32)).items()}
        {'scale2': (1, 96, 16, 16), 'scale4': (1, 96, 8, 8), 'scale8': (1, 96, 4, 4)}
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        kernel_sizes: tuple[int, ...] = (3, 5, 7),
        filters: tuple[int, ...] = (32, 32, 32),
        scales: tuple[int, ...] = (2, 4, 8),
    ) -> None:
        super().__init__()
        if len(kernel_sizes) != len(filters):
            raise ConfigError("kernel_sizes and filters need the same length")
        gen = torch.Generator().manual_seed(seed)
        self.scales = tuple(scales)
        self.style_layers = tuple(f"scale{s}" for s in scales)
        self.content_layers = ()
        self.convs = nn.ModuleList()
        for k, n in zip(kernel_sizes, filters, strict=True):
            conv = nn.Conv2d(3, n, k, padding=k // 2)
            w = torch.randn(n, 3, k, k, generator=gen)
            half = n // 2
            w[:half] -= w[:half].mean(dim=(1, 2, 3), keepdim=True)
            w /= w.flatten(1).norm(dim=1).view(n, 1, 1, 1)
            bias = 0.1 * torch.randn(n, generator=gen)
            conv.weight = nn.Parameter(w)
            conv.bias = nn.Parameter(bias)
            self.convs.append(conv)
        self.freeze()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = x * 2.0 - 1.0
        out: dict[str, torch.Tensor] = {}
        for s in self.scales:
            hs = F.avg_pool2d(h, s) if s > 1 else h
            out[f"scale{s}"] = torch.cat([F.relu(conv(hs)) for conv in self.convs], dim=1)
        return out


def create_features(name: str, *, seed: int = 0,
                    vgg_weights: str | Path | None = None) -> FeatureNetwork:
    """The frozen feature network ``vgg16``, ``vgg19``, ``resnet50`` (pretrained; ResNet with
    SWAG activation smoothing, :mod:`restyle.training.resnet`) or ``random``.

    Raises:
        ConfigError: Unknown name.
        TrainingError: VGG weights unreachable (see :meth:`VGGFeatures.load_torchvision`).

    Example:
        >>> create_features("random", seed=1).style_layers
        ('scale2', 'scale4', 'scale8')
    """
    if name == "random":
        return RandomFeatures(seed=seed).freeze()
    if name in _LAYOUT:
        return VGGFeatures(name).load_torchvision(vgg_weights).freeze()
    if name == "resnet50":
        from restyle.training.resnet import ResNetFeatures

        return ResNetFeatures().load_torchvision(vgg_weights).freeze()
    raise ConfigError(f"unknown feature network {name!r}: choose vgg16, vgg19, resnet50 or "
                      "random")
