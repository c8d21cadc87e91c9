"""The effective configuration: defaults < ``shieldwall.yaml`` < ``SHIELDWALL_*`` variables < flags.

``load_settings`` merges the four sources key by key, remembers where each
value came from (``Origin``), validates the result with the pydantic schema
and turns any error into one ``ConfigError`` that names the file and line
(or the variable, or the flag) and the key. Relative paths written in the
file are relative to the file, those from variables and flags to the
working directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shieldwall.config.model import ShieldwallConfig
from shieldwall.config.sections import SECTION_NAMES, SectionModel, section_models
from shieldwall.config.yamlsource import YamlDocument, load_yaml_file
from shieldwall.errors import ConfigError

CONFIG_NAMES = ("shieldwall.yaml", "shieldwall.yml")
EXCEPTIONS_NAME = ".shieldwallignore.yaml"
ENV_PREFIX = "SHIELDWALL_"
ENV_CONFIG = "SHIELDWALL_CONFIG"
_ENV_IGNORED = {"SHIELDWALL_CONFIG", "SHIELDWALL_CONFIG_DIR"}
_NESTED = ("registry", *SECTION_NAMES)
_PATH_KEYS = ("policy", "exceptions", "baseline", "cache_dir", "data_dir", "registry.ca_file", "registry.auth_file")
_PATH_LIST_KEYS = ("vex",)
_LIST_KEYS = ("scanners", "severity", "vex", "outputs", "registry.insecure")

M = TypeVar("M", bound=SectionModel)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one effective value came from: ``default``, ``file`` (with line), ``env`` or ``flag``."""

    kind: str
    detail: str = ""

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        return f"{self.kind} {self.detail}" if self.kind != "file" else self.detail


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated configuration plus the origin of each key and the file it was read from."""

    config: ShieldwallConfig
    origins: Mapping[str, Origin] = field(default_factory=dict)
    file: Path | None = None
    document: YamlDocument | None = None
    extra_sections: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)

    def origin(self, key: str) -> Origin:
        """The origin of dotted ``key`` (or of its nearest configured parent)."""
        probe = key
        while probe:
            if probe in self.origins:
                return self.origins[probe]
            probe = probe.rpartition(".")[0]
        return Origin("default")

    def section(self, name: str, model: type[M]) -> M:
        """The ``name:`` section validated as ``model`` (defaults when absent)."""
        raw = getattr(self.config, name, None) if name in SECTION_NAMES else self.extra_sections.get(name)
        try:
            return model.model_validate(raw or {})
        except ValidationError as exc:
            raise _config_error(exc, self, prefix=(name,)) from None

    def rows(self) -> list[tuple[str, Any, str]]:
        """``(key, value, origin)`` for every effective leaf value, for ``config show``."""
        data = self.config.model_dump(mode="json")
        for name, model in section_models().items():
            raw = data.get(name) if name in SECTION_NAMES else self.extra_sections.get(name)
            data[name] = model.model_validate(raw or {}).model_dump(mode="json")
        out: list[tuple[str, Any, str]] = []
        for key, value in data.items():
            nested = key in _NESTED or key in self.extra_sections or key in section_models()
            if nested and isinstance(value, dict) and value:
                for sub, subvalue in value.items():
                    dotted = f"{key}.{sub}"
                    out.append((dotted, subvalue, str(self.origin(dotted))))
                continue
            out.append((key, value, str(self.origin(key))))
        return out


def find_config_file(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """``$SHIELDWALL_CONFIG``, else ``shieldwall.yaml`` in the working directory, else in the git root."""
    env = os.environ if environ is None else environ
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, git_root(start)):
        if directory is None:
            continue
        for name in CONFIG_NAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def git_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that contains ``.git``."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def find_exceptions_file(settings: Settings, cwd: Path | None = None) -> Path | None:
    """The configured exceptions file, else ``.shieldwallignore.yaml`` next to the config, in cwd or git root."""
    if settings.config.exceptions:
        return Path(settings.config.exceptions)
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, settings.file.parent if settings.file else None, git_root(start)):
        if directory is not None and (directory / EXCEPTIONS_NAME).is_file():
            return directory / EXCEPTIONS_NAME
    return None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge defaults, the config file, ``SHIELDWALL_*`` variables and ``flags`` (dotted keys) and validate."""
    env = os.environ if environ is None else environ
    base = (cwd or Path.cwd()).resolve()
    path = config_file or find_config_file(base, env)
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    document: YamlDocument | None = None
    known_sections = section_models()
    if path is not None:
        document = load_yaml_file(path)
        data = document.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{document.where(())}: the configuration must be a mapping of keys")
        for key, value in data.items():
            nested = key in _NESTED or (key in known_sections and key != "policy")
            if nested and isinstance(value, dict):
                for sub, subvalue in value.items():
                    _set(values, origins, f"{key}.{sub}", subvalue, Origin("file", document.where((key, sub))))
                values.setdefault(key, {})
            else:
                _set(values, origins, key, value, Origin("file", document.where((key,))))
        _resolve_paths(values, origins, path.parent.resolve(), "file")
    env_values: dict[str, Any] = {}
    env_origins: dict[str, Origin] = {}
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var in _ENV_IGNORED:
            continue
        dotted = var[len(ENV_PREFIX) :].lower().replace("__", ".")
        top = dotted.split(".", 1)[0]
        if top not in ShieldwallConfig.model_fields and top not in known_sections:
            continue
        _set(env_values, env_origins, dotted, _env_value(dotted, env[var]), Origin("env", var))
    _resolve_paths(env_values, env_origins, base, "env")
    _merge(values, origins, env_values, env_origins)
    flag_values: dict[str, Any] = {}
    flag_origins: dict[str, Origin] = {}
    for dotted, value in (flags or {}).items():
        if value is None:
            continue
        _set(flag_values, flag_origins, dotted, value, Origin("flag", "--" + dotted.replace("_", "-")))
    _resolve_paths(flag_values, flag_origins, base, "flag")
    _merge(values, origins, flag_values, flag_origins)
    extra = {k: values.pop(k) for k in list(values) if k in known_sections and k not in ShieldwallConfig.model_fields}
    unknown_top = [k for k in values if k not in ShieldwallConfig.model_fields]
    settings_stub = Settings(ShieldwallConfig(), origins, path, document, {}, base)
    if unknown_top:
        key = unknown_top[0]
        known = ", ".join(sorted([*ShieldwallConfig.model_fields, *known_sections]))
        raise ConfigError(f"{settings_stub.origin(key)}: {key}: unknown key (known keys: {known})")
    try:
        config = ShieldwallConfig.model_validate(values)
    except ValidationError as exc:
        raise _config_error(exc, settings_stub) from None
    settings = Settings(config, origins, path, document, extra, base)
    for name, model in known_sections.items():
        settings.section(name, model)
    return settings


def _set(values: dict[str, Any], origins: dict[str, Origin], dotted: str, value: Any, origin: Origin) -> None:
    parts = dotted.split(".")
    target = values
    for part in parts[:-1]:
        existing = target.get(part)
        if not isinstance(existing, dict):
            existing = {}
            target[part] = existing
        target = existing
    target[parts[-1]] = value
    origins[dotted] = origin


def _merge(
    values: dict[str, Any], origins: dict[str, Origin], new: dict[str, Any], new_origins: dict[str, Origin]
) -> None:
    for dotted, origin in new_origins.items():
        value: Any = new
        for part in dotted.split("."):
            value = value[part]
        _set(values, origins, dotted, value, origin)


def _env_value(dotted: str, text: str) -> Any:
    top = dotted.split(".", 1)[0]
    if dotted in _LIST_KEYS:
        return [part.strip() for part in text.split(",") if part.strip()]
    if top in SECTION_NAMES or top in section_models() or dotted == "registry.mirrors":
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    return text


def _resolve_paths(values: dict[str, Any], origins: dict[str, Origin], base: Path, kind: str) -> None:
    """Make relative paths absolute against ``base`` (the config file's folder, or the working directory)."""
    for dotted in (*_PATH_KEYS, *_PATH_LIST_KEYS):
        origin = origins.get(dotted)
        if origin is None or origin.kind != kind:
            continue
        parts = dotted.split(".")
        holder: Any = values
        for part in parts[:-1]:
            holder = holder.get(part, {})
        value = holder.get(parts[-1])
        if isinstance(value, str):
            holder[parts[-1]] = str(_absolute(value, base))
        elif isinstance(value, list | tuple) and dotted in _PATH_LIST_KEYS:
            holder[parts[-1]] = [str(_absolute(v, base)) if isinstance(v, str) else v for v in value]


def _absolute(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _config_error(exc: ValidationError, settings: Settings, prefix: tuple[str, ...] = ()) -> ConfigError:
    """One line per problem: ``where: key: message``."""
    problems = []
    for error in exc.errors():
        loc = [*prefix, *(str(p) for p in error["loc"])]
        dotted = ".".join(loc)
        where = str(_where(settings, loc))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{where}: {dotted}: {message}")
    return ConfigError("invalid configuration: " + "; ".join(problems))


def _where(settings: Settings, loc: list[str]) -> str:
    document = settings.document
    origin = settings.origin(".".join(loc[:2]))
    if origin.kind == "file" and document is not None:
        path: list[str | int] = [int(p) if p.isdigit() else p for p in loc]
        return document.where(path)
    return str(origin)


def config_rows_text(settings: Settings) -> str:
    """``key = value   # origin`` lines, aligned, for ``shieldwall config show``."""
    rows = [(key, json.dumps(value, default=str), origin) for key, value, origin in settings.rows()]
    width = max((len(k) + len(v) for k, v, _ in rows), default=0) + 4
    header = f"# configuration file: {settings.file or 'none'}"
    lines = [header] + [f"{k} = {v}".ljust(width) + f"# {o}" for k, v, o in rows]
    return "\n".join(lines) + "\n"


def model_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a configuration model (documentation and editors)."""
    return model.model_json_schema()
