"""Subcommands register themselves by decorator; heavy packages load only inside ``run``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Command", "command", "commands"]

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """One ``restyle NAME`` subcommand."""

    name: str
    help: str
    configure: Configure
    run: Run


_COMMANDS: dict[str, Command] = {}


def command(name: str, *, help: str, configure: Configure) -> Callable[[Run], Run]:
    """Register the decorated ``run(args) -> exit code`` function as ``restyle NAME``.

    Example:
        >>> def _args(p: argparse.ArgumentParser) -> None:
        ...     p.add_argument("--n", type=int, default=1)
        >>> @command("doc-example", help="an example", configure=_args)
        ... def _run(args: argparse.Namespace) -> int:
        ...     return 0
        >>> "doc-example" in commands()
        True
    """

    def decorator(run: Run) -> Run:
        if name in _COMMANDS:
            raise ValueError(f"restyle subcommand {name!r} is registered twice")
        _COMMANDS[name] = Command(name=name, help=help, configure=configure, run=run)
        return run

    return decorator


def commands() -> dict[str, Command]:
    """The registered subcommands by name."""
    return dict(_COMMANDS)
