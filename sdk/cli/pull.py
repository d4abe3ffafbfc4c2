"""``restyle pull NAME`` / ``restyle pull --list``: published style models, checked and cached."""

from __future__ import annotations

import argparse
import sys

from restyle.cli.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="catalogue name, e.g. mosaic-9 (see --list)")
    p.add_argument("--list", action="store_true",
                   help="list the catalogue with licence, source and checksum")
    p.add_argument("--force", action="store_true", help="fetch and import again")
    p.add_argument("--base-url", default=None,
                   help="fetch from this folder instead of the published URL (a mirror); also "
                        "RESTYLE_PULL_BASE_URL")


@command("pull", help="fetch a published style model (onnx/models fast_neural_style), verify "
                      "its sha256, import and cache it", configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.errors import ConfigError
    from restyle.export.importers.catalogue import CATALOGUE
    from restyle.imported import pulled_model

    out = sys.stdout
    if args.list:
        for item in CATALOGUE.values():
            state = "pulled" if pulled_model(item.name) else "-"
            sha = item.sha256[:16] + "…" if item.sha256 else "not pinned (import by hand)"
            out.write(f"{item.name:<18} {item.license:<13} {state:<7} sha256 {sha}\n"
                      f"{'':<18} {item.source}\n{'':<18} {item.url}\n")
        return 0
    if not args.name:
        raise ConfigError("name a model to pull (e.g. `restyle pull udnie-9`), or list them "
                          "with `restyle pull --list`")
    from restyle.export.importers.pull import pull

    result = pull(args.name, base_url=args.base_url, force=args.force)
    if result.imported is None:
        out.write(f"{result.entry.name} is already pulled: {result.path}\n")
    else:
        out.write(f"pulled      {result.entry.url} (sha256 verified)\n")
        out.write(f"found       {result.imported.detection.summary}\n")
        out.write(f"verified    max {result.imported.max_diff} grey level(s) from the original "
                  "on photos\n")
        out.write(f"model       {result.path}\n")
    out.write(f"run it      restyle stylize {result.entry.name} PHOTOS -o OUT\n")
    return 0
