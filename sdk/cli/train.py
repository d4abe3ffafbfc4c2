"""``restyle train``: learn a style generator from style images or from example pairs (needs
``restyle[train]``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from restyle.cli.registry import command

log = logging.getLogger("restyle.cli")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", action="append", type=Path, metavar="ART",
                   help="a style image (repeat for several; their statistics are averaged)")
    p.add_argument("--content", type=Path, metavar="DIR",
                   help="folder of content photos, searched recursively (jpg/png/webp); "
                        "default: scikit-image's built-in photos")
    p.add_argument("--pairs", type=Path, metavar="DIR",
                   help="learn from examples: DIR/input/NAME.jpg photos and their stylised "
                        "DIR/target/NAME.jpg versions (same names); --style becomes optional")
    p.add_argument("--teacher", metavar="MODEL",
                   help="distil: a restyle model (.onnx or bundled style) renders pairs from the "
                        "content photos into RUN_DIR/teacher-pairs, and the generator learns "
                        "them (e.g. a compact style taught to --arch realtime)")
    p.add_argument("--patches", action="store_true",
                   help="learn the style image's structure (cells, strokes, hatching), not only "
                        "its palette: the photos are first redrawn from the style image's own "
                        "patches (texture transfer, ~10 s a photo) into RUN_DIR/patch-pairs, "
                        "and the generator learns those pairs with the style's statistics "
                        "(default weights: --pixel-weight 1 --adversarial-weight 2)")
    p.add_argument("--patch-content", type=float, metavar="W",
                   help="with --patches: how much of the photo shows through the style's "
                        "patches (default: 0.05; 0 texture only, 0.3 flat areas stay photo)")
    p.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                   help="fine-tune: start from this generator (same --arch/--width/--blocks)")
    p.add_argument("--out", type=Path, metavar="RUN_DIR",
                   help="run folder: checkpoints, previews, log.jsonl, generator.safetensors")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue an interrupted run from its newest checkpoint, with the "
                        "settings it was started with")
    p.add_argument("--describe", action="store_true",
                   help="print the architecture's parameters, FLOPs per 512×512 frame and "
                        "receptive field, then exit")
    p.add_argument("--json", action="store_true", help="with --describe: machine-readable")
    p.add_argument("--preset", metavar="NAME",
                   help="named settings (bold: large shapes and marks from a style image, "
                        "offline; johnson2016: Johnson et al. on VGG16; see "
                        "restyle.training.presets); options given explicitly win")
    p.add_argument("--arch", help="generator architecture (default: compact)")
    p.add_argument("--width", type=int, help="generator width (default: the architecture's)")
    p.add_argument("--blocks", type=int, help="residual blocks (default: the architecture's)")
    p.add_argument("--features", choices=("vgg16", "vgg19", "resnet50", "random"),
                   help="loss network; vgg16/vgg19/resnet50 need torchvision's ImageNet weights "
                        "(default: random, works offline)")
    p.add_argument("--vgg-weights", "--feature-weights", dest="vgg_weights", type=Path,
                   metavar="FILE", help="torchvision checkpoint of --features "
                   "(vgg16-397923af.pth, vgg19-dcbb9e9d.pth, resnet50-0676ba61.pth)")
    p.add_argument("--size", type=int, help="training crop size (default: 256)")
    p.add_argument("--style-size", type=int, metavar="PX",
                   help="shorter side of the style images (default: each image's own, at most "
                        "512); the stroke size: larger gives larger strokes")
    p.add_argument("--batch-size", type=int, help="content crops per step (default: 4)")
    p.add_argument("--steps", type=int, help="optimisation steps (default: 500)")
    p.add_argument("--lr", type=float, help="peak learning rate, one-cycle (default: 2e-3)")
    p.add_argument("--content-weight", type=float)
    p.add_argument("--style-weight", type=float,
                   help="weight of the style image's loss (default: 40; 10 in paired mode, "
                        "--pairs/--teacher/--patches): "
                        "higher draws more of its strokes and less of the photo")
    p.add_argument("--tv-weight", type=float)
    p.add_argument("--adversarial-weight", type=float, help="0 turns the discriminator off")
    p.add_argument("--discriminator-stages", type=int, metavar="N",
                   help="patch size the discriminator judges: 3 (default) 38 px, 4 78 px, "
                        "5 158 px; 4 for shapes larger than that, such as mosaic cells")
    p.add_argument("--content-block", type=int, metavar="PX",
                   help="block size at which the photo's light/dark layout is kept (random "
                        "features, default 2); 16 lets the style draw large shapes")
    p.add_argument("--shapes", action="store_true",
                   help="store the style image's closed shapes (mosaic cells, dots, dabs) with "
                        "the model, which paints its colours into them: for styles made of "
                        "many closed shapes")
    p.add_argument("--pixel-weight", type=float, help="paired mode: L1 loss to the target")
    p.add_argument("--feature-weight", type=float,
                   help="paired mode: feature-matching loss to the target")
    p.add_argument("--adversarial-loss", choices=("hinge", "nonsaturating", "lsgan"),
                   default="hinge")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when available), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int,
                   help="CPU threads (default: all cores; 1 on a machine shared with other jobs)")
    p.add_argument("--preview-every", type=int, default=50, help="steps between preview grids")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--name", help="style name (default: the first style file's name)")
    p.add_argument("--description", default="", help="one line describing the style")
    p.add_argument("--attribution", default="", help="where the style image(s) came from")
    p.add_argument("--license", default="", help="licence of the style images and the model")
    p.set_defaults(_resume_hint="continue with `restyle train --resume RUN_DIR` (a new "
                                "--out starts over)")


def _describe(args: argparse.Namespace) -> int:
    from restyle.training.describe import describe

    kwargs = {k: v for k, v in (("width", args.width), ("blocks", args.blocks)) if v is not None}
    d = describe(args.arch or "compact", **kwargs)
    if args.json:
        sys.stdout.write(json.dumps(d.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(d.text() + "\n")
    return 0


#: Loss weights of ``--patches`` unless given: the adversarial loss carries the texture the L1
#: loss would average away (docs/training-experiments.md, "a patch-transfer teacher").
PAIRED_STYLE_WEIGHT = 10.0
PATCH_WEIGHTS = {"pixel_weight": 1.0, "adversarial_weight": 2.0,
                 "style_weight": PAIRED_STYLE_WEIGHT}


def _patch_pairs(args: argparse.Namespace) -> Path:
    """``--patches``: the style image's patch transfer renders RUN_DIR/patch-pairs."""
    from restyle.errors import ConfigError
    from restyle.training.effects.patches import PatchTransfer, patch_pairs

    if args.pairs is not None or args.teacher is not None:
        raise ConfigError("--patches renders its own pairs: leave out --pairs and --teacher")
    if not args.style or len(args.style) != 1:
        raise ConfigError("--patches redraws the photos from one style image: pass exactly one "
                          "--style ART")
    config = (PatchTransfer() if args.patch_content is None
              else PatchTransfer(content_weight=args.patch_content))
    return patch_pairs(args.style[0], args.out / "patch-pairs", content=args.content,
                       config=config, style_size=args.style_size)


@command("train", help="train a style generator from style images or example pairs "
                       "(needs restyle[train])",
         configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle._optional import require
    from restyle.errors import ConfigError

    for module in ("torch", "safetensors"):
        require(module, purpose="training (restyle train)")

    if args.describe:
        return _describe(args)

    from restyle.training import TrainConfig, load_run_config, train

    if args.resume is not None:
        if (args.style or args.content or args.out or args.pairs or args.init_from
                or args.teacher or args.patches):
            raise ConfigError("--resume continues a run with the settings it was started with: "
                              "leave out --style, --content, --pairs, --teacher, --patches, "
                              "--init-from and --out")
        config = load_run_config(args.resume)
        if config.out.resolve() != args.resume.resolve():
            config = TrainConfig.from_dict({**config.to_dict(), "out": str(args.resume)})
        result = train(config, resume=True)
    else:
        if not args.style and args.pairs is None and args.teacher is None:
            raise ConfigError("no style image: pass --style ART, --pairs DIR, --teacher MODEL "
                              "(or --resume RUN_DIR)")
        if args.out is None:
            raise ConfigError("no run folder: pass --out RUN_DIR")
        if (args.arch == "realtime" and args.pairs is None and args.teacher is None
                and not args.patches):
            log.warning("realtime learns a style image poorly on its own (an 8-pixel texture, "
                        "docs/training-experiments.md): for its best look train compact on the "
                        "image, export it, and pass it here as --teacher MODEL.onnx")
        pairs, content = args.pairs, args.content
        if args.patch_content is not None and not args.patches:
            raise ConfigError("--patch-content sets the patch transfer of --patches: add "
                              "--patches or leave it out")
        if args.patches:
            pairs, content = _patch_pairs(args), None
        if args.teacher is not None:
            if pairs is not None:
                raise ConfigError("--teacher renders its own pairs: leave out --pairs")
            from restyle.training.effects import teacher_pairs

            # the photos become the pairs' inputs
            pairs, content = teacher_pairs(args.teacher, args.out / "teacher-pairs",
                                           content=content), None
        from restyle.training.presets import preset_settings

        given = {k: v for k in ("arch", "features", "size", "style_size", "batch_size", "steps",
                                "lr", "content_weight", "style_weight", "tv_weight",
                                "adversarial_weight", "pixel_weight", "feature_weight",
                                "discriminator_stages", "content_block")
                 if (v := getattr(args, k)) is not None}
        if args.patches:  # the weights that drew the most texture from patch pairs (docs)
            given = {**PATCH_WEIGHTS, **given}
        # paired mode's style loss sits beside its L1 loss: that balance was measured at 10
        paired = {"style_weight": PAIRED_STYLE_WEIGHT} if pairs is not None else {}
        config = TrainConfig(
            style=tuple(args.style or ()), content=content, pairs=pairs,
            init_from=args.init_from, out=args.out, width=args.width, blocks=args.blocks,
            vgg_weights=args.vgg_weights, adversarial_loss=args.adversarial_loss,
            seed=args.seed, device=args.device, threads=args.threads,
            preview_every=args.preview_every, checkpoint_every=args.checkpoint_every,
            name=args.name, shapes=args.shapes,
            description=args.description, attribution=args.attribution, license=args.license,
            **{**paired, **preset_settings(args.preset), **given},
        )
        result = train(config)
    sys.stdout.write(f"{result.generator}\n")
    return 0
