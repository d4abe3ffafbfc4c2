"""Procedural effects restyle renders itself, and pairs folders made from them.

A paired run (``restyle train --pairs DIR``) distils such an effect into a fast generator:
render the effect on photos, then learn photo → rendering. Every effect is numpy + Pillow only,
deterministic, a *local* function of the image (each output pixel depends on a small
neighbourhood — what a convolutional generator can learn from pairs), and maps an HxWx3 uint8
photo to an HxWx3 uint8 rendering of the same size.

Modules: :mod:`~restyle.training.effects.filters` (shared filters),
:mod:`~restyle.training.effects.paint`, :mod:`~restyle.training.effects.drawing`,
:mod:`~restyle.training.effects.light` (the effects), :mod:`~restyle.training.effects.registry`
(:data:`EFFECTS`, :func:`render_effect`), :mod:`~restyle.training.effects.pairs` (the pairs
writer), :mod:`~restyle.training.effects.distill` (a model as the teacher),
:mod:`~restyle.training.effects.patches` (the style image's own patches as the teacher),
:mod:`~restyle.training.effects.cli` (``python -m restyle.training.effects``).

Effects:
    ``toon``: cel shading — smoothed colours, luminance softly quantised into bands, dark
    outlines.
    ``oil``: a Kuwahara filter (each pixel takes the mean colour of the least varied of the four
    quadrant windows around it): flat, painterly patches with sharp edges.
    ``ink``: an XDoG pen drawing (Winnemöller et al. 2012): dark ink lines and soft shading on
    warm paper. Pure shape — no colour of the photo survives.
    ``pencil``: graphite sketch — colour-dodge contours smeared into 45° strokes, light shading.
    ``woodcut``: black masses and carved light shapes printed on cream.
    ``neon``: the photo's edges as glowing lines in its own hues, on black.
    ``relief``: the photo's shapes embossed in pewter, lit from the top left.
    ``cartoon`` / ``posterize``: hard per-channel posterisation (with / without outlines); a
    generator learns them poorly (docs/training-experiments.md).

Make a pairs folder from photos (``--content DIR``; default: 14 scikit-image photos,
:data:`restyle.training.bundled.PAIR_PHOTOS`, which leave the built-in content photos — astronaut,
camera, coffee, coins … — unseen for judging the result)::

    python -m restyle.training.effects pairs/toon --effect toon
    python -m restyle.training.effects pairs/sunset --model sunset   # distil a restyle model

Example:
    >>> import numpy as np
    >>> photo = (np.random.default_rng(0).random((32, 48, 3)) * 255).astype(np.uint8)
    >>> render_effect("toon", photo).shape
    (32, 48, 3)
"""

from __future__ import annotations

from restyle.training.effects.cli import main
from restyle.training.effects.distill import ModelEffect, teacher_pairs
from restyle.training.effects.drawing import ink, pencil, woodcut
from restyle.training.effects.light import neon, relief
from restyle.training.effects.paint import cartoon, oil, posterize, toon
from restyle.training.effects.pairs import write_effect_pairs
from restyle.training.effects.patches import PatchEffect, PatchTransfer, patch_pairs, patch_transfer
from restyle.training.effects.registry import EFFECTS, Effect, render_effect

__all__ = [
    "EFFECTS", "Effect", "ModelEffect", "PatchEffect", "PatchTransfer", "cartoon", "ink", "main",
    "neon", "oil", "patch_pairs", "patch_transfer", "pencil", "posterize", "relief",
    "render_effect", "teacher_pairs", "toon", "woodcut", "write_effect_pairs",
]
