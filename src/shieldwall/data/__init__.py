"""Data files shipped with Shieldwall (EOL dates, sample advisories...)."""
