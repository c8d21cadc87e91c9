"""``python -m shieldwall``."""

from shieldwall.cli.main import main

main()
