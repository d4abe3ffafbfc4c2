"""``python -m restyle`` is the ``restyle`` command."""

from __future__ import annotations

import sys

from restyle.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
