"""The ``restyle`` command line: a registry of subcommands, each in its own light module."""

from __future__ import annotations

from restyle.cli.registry import Command, command, commands

__all__ = ["Command", "command", "commands"]
