"""What the style-image experiments share: training a run to its last step with progress, and
the held-out evaluation — a PyTorch generator on the held-out photos, the texture statistic
against the style image, and a strip of the results."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restyle.training.data import HELD_OUT_PHOTOS, _skimage_photo
from restyle.training.step import TrainingRun
from restyle.training.texture import texture_score


def train_to_end(run: TrainingRun) -> float:
    """Step ``run`` to its configured step count, with the rate on stderr every 100 steps;
    returns the seconds per step."""
    start = time.perf_counter()
    first = run.step
    while run.step < run.config.steps:
        run.train_step()
        if run.step % 100 == 0:
            rate = (run.step - first) / (time.perf_counter() - start)
            sys.stderr.write(f"step {run.step}/{run.config.steps}, {rate:.2f} step/s\n")
    return (time.perf_counter() - start) / max(1, run.step - first)


def held_out_photos() -> dict[str, np.ndarray]:
    """The photos that judge a style (never trained on), uint8 RGB by name."""
    return {n: (_skimage_photo(n) * 255.0 + 0.5).astype(np.uint8) for n in HELD_OUT_PHOTOS}


def render_held_out(generator: torch.nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(photo, result) per held-out photo, each cropped to multiples of 4, ``generator`` in eval
    mode."""
    generator.eval()
    pairs = []
    for photo in held_out_photos().values():
        h, w = photo.shape[0] // 4 * 4, photo.shape[1] // 4 * 4
        photo = np.ascontiguousarray(photo[:h, :w])
        with torch.no_grad():
            x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255.0
            y = generator(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        pairs.append((photo, (y * 255.0 + 0.5).astype(np.uint8)))
    return pairs


def score_generator(generator: torch.nn.Module, style_image: np.ndarray, strip: Path
                    ) -> list[float]:
    """Texture statistic per held-out photo (cropped to multiples of 4) of ``generator``'s result
    against ``style_image``; writes the results side by side to ``strip``."""
    return score_results(render_held_out(generator), style_image, strip)


def score_results(pairs: list[tuple[np.ndarray, np.ndarray]], style_image: np.ndarray,
                  strip: Path) -> list[float]:
    """Texture statistic of each (photo, result) of :func:`render_held_out` against
    ``style_image``; writes the results side by side to ``strip``."""
    scores, outs = [], []
    for photo, result in pairs:
        scores.append(round(texture_score(photo, result, style_image).score, 2))
        outs.append(Image.fromarray(result).resize((256, 256)))
    sheet = Image.new("RGB", (256 * len(outs), 256))
    for i, im in enumerate(outs):
        sheet.paste(im, (256 * i, 0))
    sheet.save(strip)
    return scores
