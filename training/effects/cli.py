"""``python -m restyle.training.effects``: render an effect (or a model) into a pairs folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from restyle.training.effects.distill import ModelEffect
from restyle.training.effects.pairs import load_photos, write_effect_pairs
from restyle.training.effects.registry import EFFECTS

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """``python -m restyle.training.effects OUT_DIR --effect NAME [--content DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m restyle.training.effects",
                                     description="render a procedural effect into a pairs "
                                                 "folder for `restyle train --pairs`")
    parser.add_argument("out", type=Path, help="pairs folder to write (input/ and target/)")
    parser.add_argument("--effect", choices=sorted(EFFECTS), default="cartoon")
    parser.add_argument("--model", help="render the targets with this restyle model (a file or "
                        "a bundled style) instead of an effect: distillation into a faster "
                        "generator")
    parser.add_argument("--content", type=Path,
                        help="folder of photos (default: 14 scikit-image photos, the built-in "
                             "content photos held back)")
    args = parser.parse_args(argv)
    photos = load_photos(args.content)
    if args.model:
        with ModelEffect(args.model) as teacher:
            write_effect_pairs(args.out, effect=teacher, photos=photos)
    else:
        write_effect_pairs(args.out, effect=args.effect, photos=photos)
    return 0
