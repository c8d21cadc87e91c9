"""Inputs that are not files of the target: the image config, and file modes seen in layers.

Both come from the scan itself (the image config from the target, a file's
mode bits from its layer entry); the parsers here read their JSON form so
checks of these kinds have fixtures like every other check.
"""

from __future__ import annotations

import json
from typing import Any

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.errors import CorruptInputError
from shieldwall.misconfig.check import InputKind, ParsedFile, Resource
from shieldwall.model import ImageConfig
from shieldwall.target.imageconfig import parse_image_config


def image_config_document(config: ImageConfig) -> dict[str, Any]:
    """Plain form of the image config for the condition language (Docker's own key names)."""
    return {
        "User": config.user,
        "Env": list(config.env),
        "ExposedPorts": list(config.exposed_ports),
        "Entrypoint": list(config.entrypoint),
        "Cmd": list(config.cmd),
        "WorkingDir": config.working_dir,
        "Labels": dict(config.labels),
        "Healthcheck": list(config.healthcheck),
        "Volumes": list(config.volumes),
        "History": [h.created_by for h in config.history],
    }


def image_config_resource(config: ImageConfig, path: str, name: str) -> Resource:
    """The one resource of an image config."""
    return Resource(
        input=InputKind.IMAGE_CONFIG,
        kind="ImageConfig",
        name=name,
        path=path,
        data=config,
        document=image_config_document(config),
    )


def file_mode_resource(info: FileInfo) -> Resource:
    """A file of a layer, seen through its mode bits."""
    return Resource(input=InputKind.FILE_MODE, kind="File", name=info.path, path=info.path, data=info)


class ImageConfigInput:
    """Reads an OCI/Docker image config JSON (fixtures; scans take the config from the target)."""

    input = InputKind.IMAGE_CONFIG

    def claims(self, path: str, info: FileInfo) -> bool:
        """Never: image configs are not files of the target."""
        return False

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``ImageConfig`` resource."""
        try:
            config = parse_image_config(content, path)
        except CorruptInputError as exc:
            raise AnalyzerError(str(exc)) from exc
        return ParsedFile(path, self.input, (image_config_resource(config, path, "image"),))


class FileModeInput:
    """Reads ``{"path": ..., "mode": "4755"}`` (fixtures; scans take modes from layer entries)."""

    input = InputKind.FILE_MODE

    def claims(self, path: str, info: FileInfo) -> bool:
        """Never: the setuid analyzer builds these resources from layer entries."""
        return False

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``File`` resource per listed entry."""
        try:
            raw = json.loads(content)
            items = raw if isinstance(raw, list) else [raw]
            infos = [FileInfo(str(i["path"]), int(i.get("size", 0)), int(str(i["mode"]), 8)) for i in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise AnalyzerError(f"{path}: not a file-mode list: {exc}") from exc
        return ParsedFile(path, self.input, tuple(file_mode_resource(i) for i in infos))
