"""``restyle styles``: the bundled styles, one a line: name, then a one-line description."""

from __future__ import annotations

import argparse
import sys

from restyle.cli.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    del p  # no options


@command("styles", help="list the bundled styles", configure=_configure)
def run(args: argparse.Namespace) -> int:
    from restyle.styles import list_styles

    styles = list_styles()
    width = max((len(s.name) for s in styles), default=0)
    for s in styles:
        sys.stdout.write(f"{s.name:<{width}}  {s.description}\n")
    return 0
