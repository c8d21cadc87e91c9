"""The FIM module is a built-in agent module that satisfies the contract."""

from __future__ import annotations

from shieldwall.agent.module import AgentModule
from shieldwall.agent.modules import BUILTIN, load_modules


def test_fim_is_built_in_and_implements_the_contract() -> None:
    assert "fim" in BUILTIN
    (fim,) = [m for m in load_modules() if m.name == "fim"]
    assert isinstance(fim, AgentModule) and fim.version
