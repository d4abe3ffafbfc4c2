"""``restyle`` entry point: builds the parser from the registry and turns errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from restyle._version import __version__
from restyle.cli.registry import commands
from restyle.errors import RestyleError

__all__ = ["build_parser", "main"]

log = logging.getLogger("restyle.cli")

# Every module of restyle.cli but these registers subcommands. Each is light: it imports its heavy
# package (torch, av, ...) inside `run`, so `restyle --help` stays fast and torch-free.
_NOT_COMMANDS = frozenset({"main", "options", "registry"})

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by it


def build_parser() -> argparse.ArgumentParser:
    """The full ``restyle`` argument parser."""
    import restyle.cli

    for module in pkgutil.iter_modules(restyle.cli.__path__):
        if module.name not in _NOT_COMMANDS and not module.name.startswith("_"):
            importlib.import_module(f"restyle.cli.{module.name}")
    parser = argparse.ArgumentParser(
        prog="restyle",
        description="Learn an image style, export it, and apply it fast.",
    )
    parser.add_argument("--version", action="version", version=f"restyle {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in sorted(commands().values(), key=lambda c: c.name):
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not the stream of the
    moment ``main`` ran): a host that swaps ``sys.stderr`` later (a notebook, pytest's capture)
    never gets a write to a closed stream."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbose
                                           else "%(message)s"))
    root = logging.getLogger("restyle")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``restyle`` with ``argv`` (default: the process arguments); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    try:
        code: int = run(args)
    except RestyleError as exc:
        log.error("error: %s", exc)
        log.debug("details", exc_info=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        hint = getattr(args, "_resume_hint", "run the same command again to resume")
        log.error("interrupted: finished work was kept; %s", hint)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`restyle pull --list | head`): not an error of ours; keep the
        # interpreter's final flush from failing again on the closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code
