"""Policies apply atomically across modules: one refusal rolls the others back to the previous section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.module import ModuleContext, ModuleState, ModuleStatus, PolicyError
from shieldwall.agent.policy import EMPTY, AppliedPolicy, apply_policy, load_policy, save_policy


class Recorder:
    """A module that records every section it runs and refuses sections with ``refuse``."""

    version = "1"

    def __init__(self, name: str, crash: bool = False) -> None:
        self.name = name
        self.crash = crash
        self.running: Mapping[str, Any] | None = None
        self.history: list[Mapping[str, Any] | None] = []

    def start(self, ctx: ModuleContext) -> None:
        return None

    def apply(self, section: Mapping[str, Any] | None, policy_version: int) -> ModuleState:
        if section is not None and section.get("refuse"):
            if self.crash:
                raise RuntimeError("bug")
            raise PolicyError(f"{self.name} refuses")
        self.running = section
        self.history.append(section)
        return ModuleState(ModuleStatus.RUNNING if section else ModuleStatus.DISABLED, policy_version)

    def tick(self, now: float) -> None:
        return None

    def state(self) -> ModuleState:
        return ModuleState(ModuleStatus.RUNNING)

    def stop(self) -> None:
        return None


def _doc(**sections: Any) -> dict[str, Any]:
    return {"modules": sections}


def test_all_modules_switch_when_all_accept() -> None:
    a, b = Recorder("a"), Recorder("b")
    outcome = apply_policy([a, b], AppliedPolicy(7, _doc(a={"x": 1})), EMPTY)
    assert outcome.ok and outcome.revision == 7
    assert a.running == {"x": 1} and b.running is None
    assert outcome.states["a"].status is ModuleStatus.RUNNING
    assert outcome.states["b"].status is ModuleStatus.DISABLED


def test_refusal_rolls_back_modules_already_switched() -> None:
    a, b, c = Recorder("a"), Recorder("b"), Recorder("c")
    old = AppliedPolicy(3, _doc(a={"v": "old"}, b={"v": "old"}, c={"v": "old"}))
    assert apply_policy([a, b, c], old, EMPTY).ok
    new = AppliedPolicy(4, _doc(a={"v": "new"}, b={"refuse": True}, c={"v": "new"}))
    outcome = apply_policy([a, b, c], new, old)
    assert not outcome.ok
    assert outcome.failed_module == "b" and "b refuses" in outcome.error
    assert outcome.revision == 3
    assert a.history == [{"v": "old"}, {"v": "new"}, {"v": "old"}], "a switched, then went back"
    assert b.running == {"v": "old"} and c.running == {"v": "old"}
    assert c.history == [{"v": "old"}], "c was never touched"


def test_a_crashing_apply_counts_as_a_refusal() -> None:
    a, b = Recorder("a"), Recorder("b", crash=True)
    outcome = apply_policy([a, b], AppliedPolicy(2, _doc(a={"v": 1}, b={"refuse": True})), EMPTY)
    assert not outcome.ok and "RuntimeError" in outcome.error
    assert a.running is None


def test_policy_cache_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    assert load_policy(path) == EMPTY
    save_policy(path, AppliedPolicy(9, _doc(a={"k": [1, 2]})))
    assert load_policy(path) == AppliedPolicy(9, _doc(a={"k": [1, 2]}))
    path.write_text("{broken")
    assert load_policy(path) == EMPTY
