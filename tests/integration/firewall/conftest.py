"""Fixtures: a namespace pair with echo servers and a firewall module acting on the host namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.firewall_rig import ModuleRig
from helpers.netns import NetPair, available


@pytest.fixture
def pair() -> Iterator[NetPair]:
    """Host and peer namespaces (removed afterwards, even on failure)."""
    reason = available()
    if reason:
        pytest.skip(reason)
    net = NetPair.create()
    try:
        yield net
    finally:
        net.close()


@pytest.fixture
def rig(pair: NetPair, tmp_path: Path) -> Iterator[ModuleRig]:
    """The module under test, started against ``pair.host``."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    made = ModuleRig(pair, state)
    try:
        yield made
    finally:
        made.module.stop()  # stops its nft monitor process
