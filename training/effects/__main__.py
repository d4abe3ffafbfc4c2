"""``python -m restyle.training.effects``."""

from restyle.training.effects.cli import main

raise SystemExit(main())
