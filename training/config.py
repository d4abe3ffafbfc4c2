"""The training configuration: one frozen dataclass, checked once, stored with every checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restyle.errors import ConfigError

__all__ = ["ADVERSARIAL_LOSSES", "FEATURES", "TrainConfig"]

FEATURES = ("vgg16", "vgg19", "resnet50", "random")
ADVERSARIAL_LOSSES = ("hinge", "nonsaturating", "lsgan")


#: Largest training crop (and style image side) and batch accepted: above them a step needs more
#: memory than any machine restyle runs on.
MAX_SIZE = 4096
MAX_BATCH = 1024
#: Most stride-2 stages of the patch discriminator (6 judges 318-px patches).
MAX_DISCRIMINATOR_STAGES = 6

@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Defaults are the measured CPU recipe.

    Loss weights apply to scale-free losses (each term is a relative error, see
    :mod:`restyle.training.losses`), so the same weights serve every feature network.

    Attributes:
        style: One or more style images; their Gram statistics are averaged. May be empty in
            paired mode (``pairs``), where a style image only adds a Gram term.
        out: The run folder (checkpoints, previews, log).
        content: A folder of content photos (searched recursively); ``None``: the built-in
            scikit-image photos. Not used in paired mode.
        pairs: Paired mode (learning from examples, as pix2pix): a folder holding
            ``input/NAME.ext`` photos and their stylised ``target/NAME.ext`` versions, matched by
            file stem (see :mod:`restyle.training.pairs`). The generator learns the mapping with
            an L1 pixel loss (``pixel_weight``), a feature-matching loss against the target
            (``feature_weight``) and a conditional discriminator that judges (photo, result)
            pairs (``adversarial_weight``); ``content_weight`` is not used.
        init_from: Fine-tuning: start from the weights of this checkpoint (or run folder); it
            must hold the same architecture and width/blocks. Optimisers start fresh.
        arch: A generator architecture of :func:`restyle.training.models.list_models`.
        width: Generator width; ``None``: the architecture's default.
        blocks: Residual blocks; ``None``: the architecture's default.
        features: Loss network: ``vgg16``, ``vgg19``, ``resnet50`` (pretrained weights needed;
            ResNet with SWAG activation smoothing) or ``random``.
        vgg_weights: The torchvision checkpoint file of ``features`` (VGG or ResNet-50), stored
            as an absolute path so a run resumes from any working directory; ``None``: the
            torch hub cache or a download.
        size: Training crop size in pixels (a multiple of the generator's ``size_multiple``).
        style_size: Shorter side the style images are resized to; ``None``: each image's own,
            shrunk to 512 at most (:data:`restyle.training.data.DEFAULT_MAX_STYLE_SIDE`). With a
            pretrained network it sets the stroke size: the losses see the style's strokes at
            their size in pixels at this scale, so a larger style size gives larger strokes.
        batch_size: Content crops per step.
        steps: Optimisation steps in all.
        lr: Peak generator learning rate of the one-cycle schedule (Adam).
        content_weight, style_weight, tv_weight, adversarial_weight: Loss weights. The style
            weight is 40 since session 8 (was 10): on held-out photos and style images it drew
            more of a style's fine structure (brush marks 0.59 → 0.45 on the texture statistic,
            hatching 0.47 → 0.42) while the photo's layout stayed (docs/training-experiments.md).
            ``restyle train`` uses 10 in paired mode, where the style loss sits beside the L1
            loss to the targets; pass ``style_weight=10`` for that balance here.
        pixel_weight, feature_weight: Paired-mode loss weights (L1 to the target, relative
            error of the feature maps against the target's).
        adversarial_loss: ``hinge``, ``nonsaturating`` or ``lsgan``.
        d_lr: Discriminator learning rate (Adam, betas 0.5/0.99).
        crop: Side of the random crops the discriminator sees; ``None``: 2^(stages + 3) — 64
            px for the default three stages (capped by ``size`` and the style image).
        discriminator_stages: Stride-2 stages of the patch discriminator: 3 judges 38-px
            patches, 4 judges 78-px, 5 judges 158-px. A style whose shapes are larger than a
            patch (mosaic cells, large dots) needs 4: measured on held-out photos with the other
            losses equal, the texture statistic of a mosaic went 0.99 → 0.74
            (docs/training-experiments.md, session 10; preset ``bold``).
        content_block: Block side (px) of the random features' content loss, the squared error
            of the standardised luminance averaged over blocks: the photo's light and dark
            layout is kept at this scale, and inside a block the style may draw anything.
            2 keeps the photo's detail; 16 frees large shapes (preset ``bold``). Only with
            ``features="random"`` in style mode.
        shapes: Store the style image's closed shapes with the generator
            (:func:`restyle.training.shapes.segment_style`, at the style image's training
            scale): a model exported from the run paints its colours into them
            (:mod:`restyle.shapes`). For styles made of many closed shapes — mosaic cells, dots,
            dabs — which the network alone draws as blobs (docs/training-experiments.md,
            session 11). One style image, style mode only.
        seed: Seeds the weights, the feature network, and every random choice.
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``. On a
            GPU a resumed run follows the uninterrupted one only as far as its kernels are
            deterministic.
        threads: CPU threads for PyTorch; ``None``: PyTorch's default (all cores). On a machine
            shared with other jobs, 1 avoids oversubscribed threads (measured at 256×256 batch 4
            beside another job on 2 cores: 6.2 s per step with 2 threads, 1.2 s with 1).
        preview_every: Steps between preview grids (0: none).
        checkpoint_every: Steps between checkpoints (0: only at the end and on Ctrl-C).
        keep_checkpoints: How many step checkpoints to keep (the newest).
        name: Style name recorded in the checkpoint; ``None``: the first style file's stem.
        description, attribution, license: Recorded in the checkpoint and the exported model.
    """

    style: tuple[Path, ...]
    out: Path
    content: Path | None = None
    pairs: Path | None = None
    init_from: Path | None = None
    arch: str = "compact"
    width: int | None = None
    blocks: int | None = None
    features: str = "random"
    vgg_weights: Path | None = None
    size: int = 256
    style_size: int | None = None
    batch_size: int = 4
    steps: int = 500
    lr: float = 2e-3
    content_weight: float = 2.0
    style_weight: float = 40.0
    tv_weight: float = 0.0
    adversarial_weight: float = 0.3
    pixel_weight: float = 10.0
    feature_weight: float = 1.0
    adversarial_loss: str = "hinge"
    d_lr: float = 4e-4
    crop: int | None = None
    discriminator_stages: int = 3
    content_block: int = 2
    shapes: bool = False
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    preview_every: int = 50
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    name: str | None = None
    description: str = ""
    attribution: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        style = tuple(Path(p) for p in ((self.style,) if isinstance(self.style, (str, Path))
                                        else self.style))
        object.__setattr__(self, "style", style)
        object.__setattr__(self, "out", Path(self.out))
        if self.content is not None:
            object.__setattr__(self, "content", Path(self.content))
        for name in ("vgg_weights", "pairs", "init_from"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        if self.vgg_weights is not None:
            object.__setattr__(self, "vgg_weights", self.vgg_weights.expanduser().resolve())
        if not style and self.pairs is None:
            raise ConfigError("no style image given: pass at least one, e.g. --style art.jpg, "
                              "or a folder of example pairs with --pairs DIR")
        if self.pairs is not None and self.content is not None:
            raise ConfigError("--content is not used in paired mode (the photos are the pairs' "
                              "inputs): leave out --content or --pairs")
        if self.features not in FEATURES:
            raise ConfigError(f"unknown feature network {self.features!r}: choose one of "
                              f"{', '.join(FEATURES)}")
        if self.adversarial_loss not in ADVERSARIAL_LOSSES:
            raise ConfigError(f"unknown adversarial loss {self.adversarial_loss!r}: choose one of "
                              f"{', '.join(ADVERSARIAL_LOSSES)}")
        if self.style_size is not None and self.style_size < 16:
            raise ConfigError(f"style_size must be at least 16 pixels, got {self.style_size}")
        for name in ("size", "batch_size", "steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 16 <= self.size <= MAX_SIZE:
            raise ConfigError(f"size {self.size} is outside 16..{MAX_SIZE} pixels: training crops "
                              "of 256 px suit most styles")
        if self.batch_size > MAX_BATCH:
            raise ConfigError(f"batch_size {self.batch_size} is above {MAX_BATCH}: use 4–16 "
                              "crops per step")
        if self.style_size is not None and not 16 <= self.style_size <= MAX_SIZE:
            raise ConfigError(f"style_size {self.style_size} is outside 16..{MAX_SIZE} pixels")
        for name in ("lr", "d_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("content_weight", "style_weight", "tv_weight", "adversarial_weight",
                     "pixel_weight", "feature_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.crop is not None and self.crop < 8:
            raise ConfigError(f"crop must be at least 8 pixels, got {self.crop}")
        if not 1 <= self.discriminator_stages <= MAX_DISCRIMINATOR_STAGES:
            raise ConfigError(f"discriminator_stages must be 1..{MAX_DISCRIMINATOR_STAGES}, got "
                              f"{self.discriminator_stages}: 3 judges 38-px patches, 4 78-px")
        if not 1 <= self.content_block <= self.size // 4:
            raise ConfigError(f"content_block {self.content_block} is outside 1..{self.size // 4} "
                              f"(a quarter of size {self.size}): 2 keeps detail, 16 frees large "
                              "shapes")
        if self.content_block != 2 and (self.features != "random" or self.pairs is not None):
            raise ConfigError(
                f"content_block {self.content_block} sets the luminance content loss of the "
                f"random features in style mode, which "
                + (f"--features {self.features}" if self.features != "random" else "--pairs")
                + " does not use: pass --content-block 2 (the preset bold sets 16)")
        if self.shapes and (len(self.style) != 1 or self.pairs is not None):
            raise ConfigError(
                "--shapes takes the closed shapes of one style image, but "
                + ("--pairs trains from example pairs" if self.pairs is not None
                   else f"{len(self.style)} style images were given")
                + ": pass exactly one --style, or leave out --shapes")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")
        if self.preview_every < 0 or self.checkpoint_every < 0 or self.keep_checkpoints < 1:
            raise ConfigError("preview_every and checkpoint_every must be ≥ 0, "
                              "keep_checkpoints ≥ 1")

    @property
    def style_name(self) -> str:
        """The style's name: ``name``, else the first style image's (or pairs folder's) stem."""
        if self.name:
            return self.name
        return self.style[0].stem if self.style else Path(self.pairs or "pairs").resolve().name

    @property
    def discriminator_crop(self) -> int:
        """Side of the discriminator's crops before the caps of the data: ``crop``, else
        2^(discriminator_stages + 3)."""
        return self.crop if self.crop is not None else 2 ** (self.discriminator_stages + 3)

    @property
    def arch_kwargs(self) -> dict[str, int]:
        """The generator constructor arguments given (width, blocks)."""
        kw: dict[str, int] = {}
        if self.width is not None:
            kw["width"] = self.width
        if self.blocks is not None:
            kw["blocks"] = self.blocks
        return kw

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable values (paths as strings)."""
        data = dataclasses.asdict(self)
        data["style"] = [str(p) for p in self.style]
        for name in ("content", "out", "vgg_weights", "pairs", "init_from"):
            data[name] = None if data[name] is None else str(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a :class:`ConfigError`.

        Example:
            >>> c = TrainConfig(style=("art.png",), out="run")
            >>> TrainConfig.from_dict(c.to_dict()) == c
            True
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown training settings {sorted(unknown)}: this restyle knows "
                              f"{sorted(known)}")
        values = dict(data)
        values["style"] = tuple(Path(p) for p in values["style"])
        return cls(**values)
