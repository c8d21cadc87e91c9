"""Which checks run: the built-ins (listed explicitly), entry-point plugins, and YAML checks.

Plugins publish, in the ``shieldwall.checks`` entry point group, a ``Check``,
an iterable of ``Check`` values, or a zero-argument callable returning
either. Custom YAML checks are read from the directories in
``CheckConfig.custom_dirs``; ``config_from_environment`` fills them from
``SHIELDWALL_CHECKS_DIR`` (``os.pathsep``-separated) and the ``checks``
folder of the Shieldwall config directory.

Check IDs are unique: a later check reusing an ID is dropped with a warning.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path

from shieldwall import paths
from shieldwall.misconfig.check import CHECK_ID, Check

ENTRY_POINT_GROUP = "shieldwall.checks"
ENV_CHECKS_DIR = "SHIELDWALL_CHECKS_DIR"


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """What checks a scan runs besides the built-ins; passed explicitly, never read from a global."""

    custom_dirs: tuple[Path, ...] = ()
    include_plugins: bool = True
    disabled: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CheckSet:
    """The loaded checks, indexed by input kind, and any problems met while loading them."""

    checks: tuple[Check, ...]
    warnings: tuple[str, ...] = ()
    _by_input: Mapping[str, tuple[Check, ...]] = field(default_factory=dict, repr=False, compare=False)

    def for_input(self, input_kind: str) -> tuple[Check, ...]:
        """Checks of one input kind."""
        return self._by_input.get(input_kind, ())

    def get(self, check_id: str) -> Check | None:
        """The check with ``check_id``."""
        return next((c for c in self.checks if c.id == check_id), None)


def builtin_checks() -> list[Check]:
    """Every built-in check, in a fixed order. Add new check modules here."""
    from shieldwall.misconfig.checks import (
        compose,
        dockerfile,
        filemode,
        imageconfig,
        k8s_controlplane,
        k8s_rbac,
        k8s_resources,
        k8s_workload,
    )

    checks: list[Check] = [*dockerfile.CHECKS, *imageconfig.CHECKS, *filemode.CHECKS]
    checks += [*k8s_workload.CHECKS, *k8s_rbac.CHECKS, *k8s_resources.CHECKS]
    checks += [*k8s_controlplane.CHECKS, *compose.CHECKS]
    from shieldwall.misconfig.checks import terraform_aws, terraform_azure, terraform_gcp

    checks += [*terraform_aws.CHECKS, *terraform_gcp.CHECKS, *terraform_azure.CHECKS]
    from shieldwall.misconfig.checks import host_docker, host_files, host_ssh, host_sysctl

    checks += [*host_ssh.CHECKS, *host_sysctl.CHECKS, *host_docker.CHECKS, *host_files.CHECKS]
    return checks


def _flatten(obj: object, origin: str) -> list[Check]:
    if isinstance(obj, Check):
        return [obj]
    if callable(obj):
        return _flatten(obj(), origin)
    if isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        out: list[Check] = []
        for item in obj:
            if not isinstance(item, Check):
                raise TypeError(f"{origin} yielded {type(item).__name__}, not Check")
            out.append(item)
        return out
    raise TypeError(f"{origin} is {type(obj).__name__}, not a Check or checks")


def plugin_checks() -> tuple[list[Check], list[str]]:
    """Checks published through entry points; a broken plugin is a warning, not a crash."""
    checks: list[Check] = []
    warnings: list[str] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name} ({ep.value})"
        try:
            loaded = _flatten(ep.load(), origin)
        except Exception as exc:  # a broken plugin must surface, never pass silently
            warnings.append(f"{origin}: cannot load checks: {type(exc).__name__}: {exc}")
            continue
        from dataclasses import replace

        checks.extend(replace(c, source=origin) if c.source == "builtin" else c for c in loaded)
    return checks, warnings


def assemble(checks: Sequence[Check], disabled: Iterable[str] = (), warnings: Iterable[str] = ()) -> CheckSet:
    """Index ``checks`` by input kind, dropping disabled IDs, bad IDs and duplicates (with warnings)."""
    problems = list(warnings)
    off = frozenset(disabled)
    kept: list[Check] = []
    seen: dict[str, str] = {}
    for item in checks:
        if not CHECK_ID.match(item.id):
            problems.append(f"check ID {item.id!r} from {item.source} is malformed; skipped")
            continue
        if item.id in seen:
            problems.append(f"check {item.id} from {item.source} duplicates one from {seen[item.id]}; skipped")
            continue
        seen[item.id] = item.source
        if item.id not in off:
            kept.append(item)
    by_input: dict[str, list[Check]] = {}
    for item in kept:
        by_input.setdefault(item.input, []).append(item)
    return CheckSet(tuple(kept), tuple(problems), {k: tuple(v) for k, v in by_input.items()})


@lru_cache(maxsize=1)
def _builtin_set() -> CheckSet:
    return assemble(builtin_checks())


def load_checks(config: CheckConfig | None = None) -> CheckSet:
    """Built-ins, then plugins, then custom YAML checks of ``config``.

    Raises ``ConfigError`` for a missing custom checks directory or an invalid
    check in it (an unusable policy is an error, not a silent pass); plugins
    that fail to load and duplicate IDs are warnings of the returned set.
    """
    config = config or CheckConfig()
    if not config.custom_dirs and not config.include_plugins and not config.disabled:
        return _builtin_set()
    from shieldwall.misconfig.custom import load_directory

    checks = builtin_checks()
    warnings: list[str] = []
    if config.include_plugins:
        found, problems = plugin_checks()
        checks += found
        warnings += problems
    for directory in config.custom_dirs:
        checks += load_directory(directory)  # a broken custom check fails the scan with its diagnosis
    return assemble(checks, config.disabled, warnings)


def config_from_environment(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> CheckConfig:
    """``CheckConfig`` for a scan started without one (the analyzer's zero-argument factory calls this).

    Reads the ``misconfig:`` section of ``shieldwall.yaml`` (and its ``SHIELDWALL_MISCONFIG__*``
    variables), ``SHIELDWALL_CHECKS_DIR`` (os.pathsep-separated) and ``<config dir>/checks``.
    """
    from shieldwall.config.load import find_config_file, load_settings
    from shieldwall.misconfig.settings import MisconfigSection, check_config

    env = os.environ if environ is None else environ
    dirs = [Path(p).expanduser() for p in env.get(ENV_CHECKS_DIR, "").split(os.pathsep) if p]
    default = paths.config_dir(environ) / "checks"
    if default.is_dir():
        dirs.append(default)
    config_file = find_config_file(cwd, env)
    if config_file is None:
        return CheckConfig(custom_dirs=tuple(dirs))
    settings = load_settings(config_file=config_file, environ=env, cwd=cwd)
    section = settings.section("misconfig", MisconfigSection)
    return check_config(section, config_file.parent, tuple(dirs))
