"""The firewall module without root: the contract, unavailability and argument lists."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shieldwall.agent.events import AgentEvent
from shieldwall.agent.module import AgentModule, ModuleContext, ModuleStatus, PolicyError
from shieldwall.agent.modules import load_modules
from shieldwall.agent.modules.firewall import BlockRefused, FirewallModule
from shieldwall.firewall.nft import Nft


def test_is_a_builtin_agent_module() -> None:
    modules = {m.name: m for m in load_modules()}
    assert isinstance(modules["firewall"], AgentModule)
    assert isinstance(modules["firewall"], FirewallModule)


def test_missing_nft_is_unavailable_and_refuses_policies(tmp_path: Path) -> None:
    events: list[AgentEvent] = []
    module = FirewallModule()
    settings = {"nft_binary": str(tmp_path / "no-nft")}
    module.start(ModuleContext(tmp_path, tmp_path, events.append, logging.getLogger("t"), settings))
    assert module.state().status is ModuleStatus.UNAVAILABLE
    assert "cannot run nft" in module.state().detail
    with pytest.raises(PolicyError, match="unavailable"):
        module.apply({"use": "p", "policies": {"p": {}}}, 1)
    with pytest.raises(BlockRefused, match="no applied policy"):
        module.block_address("192.0.2.1", 60, "x")


def test_nft_argv_in_a_namespace_is_an_argument_list() -> None:
    assert Nft(netns="swfw-x").argv("-j", "list", "tables") == [
        "ip", "netns", "exec", "swfw-x", "nft", "-j", "list", "tables",
    ]  # fmt: skip
    assert Nft().argv("list", "tables") == ["nft", "list", "tables"]
    for bad in ("", "-rf", "a b", "x;y", "../x", "..", ".hidden", "x" * 65):
        with pytest.raises(ValueError):
            Nft(netns=bad)
