"""Conversion of the frozen model values to and from plain JSON data (cattrs)."""

from __future__ import annotations

import cattrs

converter = cattrs.Converter(forbid_extra_keys=False)
