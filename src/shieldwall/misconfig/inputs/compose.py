"""docker-compose / Compose Specification files: one resource per service."""

from __future__ import annotations

from dataclasses import dataclass

from shieldwall.analyze.base import AnalyzerError, FileInfo, basename
from shieldwall.misconfig.check import InputKind, ParsedFile, Resource
from shieldwall.misconfig.suppress import scan_lines
from shieldwall.misconfig.yamlload import YamlMap, load_documents

MAX_BYTES = 4 * 1024 * 1024


def is_compose_name(path: str) -> bool:
    """``docker-compose*.yml``/``.yaml`` and ``compose*.yml``/``.yaml``."""
    name = basename(path).lower()
    return name.endswith((".yml", ".yaml")) and name.startswith(("docker-compose", "compose"))


@dataclass(frozen=True, slots=True)
class ComposeService:
    """A service of a compose file and the file's top-level document (for named volumes, secrets)."""

    name: str
    spec: YamlMap
    project: YamlMap


class ComposeInput:
    """Parser for the ``compose`` input kind."""

    input = InputKind.COMPOSE

    def claims(self, path: str, info: FileInfo) -> bool:
        """Compose file names up to 4 MiB."""
        return info.size <= MAX_BYTES and is_compose_name(path)

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """A ``service`` resource per entry of ``services`` (version 1 files: top-level services)."""
        text = content.decode("utf-8", errors="replace")
        documents = load_documents(text, path)
        if not documents:
            return None
        project = documents[0]
        if not isinstance(project, YamlMap):
            raise AnalyzerError(f"{path}: compose file is not a mapping")
        services = project.get("services")
        if not isinstance(services, YamlMap):
            # version 1: services at the top level
            services = YamlMap()
            for key, value in project.items():
                if isinstance(value, YamlMap) and ("image" in value or "build" in value):
                    services[key] = value
        resources = []
        for name, spec in services.items():
            if not isinstance(spec, YamlMap):
                continue
            start, end = services.lines_of(name)
            resources.append(
                Resource(
                    input=self.input,
                    kind="service",
                    name=str(name),
                    path=path,
                    data=ComposeService(str(name), spec, project),
                    line=start,
                    end_line=end,
                    document=spec,
                )
            )
        if not resources:
            return None
        suppressions, quiet = scan_lines(text)
        header = max(project.start - 1, 0)
        return ParsedFile(path, self.input, tuple(resources), suppressions, header, quiet)
