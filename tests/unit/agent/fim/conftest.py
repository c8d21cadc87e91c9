"""A FIM module started on a temporary root, its emitted events collected in a list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.fim import Harness, started


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    with started(tmp_path) as h:
        yield h
