"""Dockerfiles and Containerfiles, multi-stage aware, parsed with ``dockerfile-parse``."""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass
from typing import Any

from dockerfile_parse import DockerfileParser

from shieldwall.analyze.base import AnalyzerError, FileInfo, basename
from shieldwall.misconfig.check import InputKind, ParsedFile, Resource, ResourceRef
from shieldwall.misconfig.suppress import scan_lines
from shieldwall.misconfig.yamlload import YamlList, YamlMap

MAX_BYTES = 1024 * 1024
_FLAG = re.compile(r"^--([A-Za-z-]+)(?:=(\S*))?$")


def is_dockerfile_name(path: str) -> bool:
    """``Dockerfile``, ``Containerfile``, ``Dockerfile.*``, ``*.dockerfile`` (any case of the suffix)."""
    name = basename(path)
    lower = name.lower()
    if lower in ("dockerfile", "containerfile"):
        return True
    if lower.startswith(("dockerfile.", "containerfile.")):
        return not lower.endswith((".dockerignore", ".md", ".txt", ".orig", ".rej"))
    return lower.endswith((".dockerfile", ".containerfile"))


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction: upper-case name, the text after it, its 1-based lines, its stage (-1 before any FROM)."""

    cmd: str
    value: str
    original: str
    line: int
    end_line: int
    stage: int

    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` flags (``COPY --from=build``, ``RUN --mount=...``)."""
        out: dict[str, str] = {}
        for token in self.value.split():
            match = _FLAG.match(token)
            if match is None:
                break
            out[match.group(1).lower()] = match.group(2) or ""
        return out

    def args(self) -> str:
        """The value without leading flags."""
        tokens = self.value.split()
        index = 0
        while index < len(tokens) and _FLAG.match(tokens[index]):
            index += 1
        return " ".join(tokens[index:])

    def words(self) -> list[str]:
        """Arguments as a list: JSON (exec) form or shell words."""
        text = self.args().strip()
        if text.startswith("["):
            import json

            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, list):
                return [str(v) for v in value]
        try:
            return shlex.split(text, comments=False, posix=True)
        except ValueError:
            return text.split()


@dataclass(frozen=True, slots=True)
class Stage:
    """One ``FROM`` and what follows it up to the next ``FROM``."""

    index: int
    base: str
    alias: str
    platform: str
    line: int
    end_line: int
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        """How findings name the stage: its alias, or its position."""
        return self.alias or f"#{self.index + 1}"

    def ref(self, cmd: str) -> ResourceRef:
        """Resource reference for an instruction of this stage."""
        return ResourceRef(cmd, f"stage {self.label}")


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile: every instruction and the stages they form."""

    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    @property
    def final(self) -> Stage | None:
        """The stage the image is built from (the last one)."""
        return self.stages[-1] if self.stages else None

    @property
    def aliases(self) -> frozenset[str]:
        """Names of the stages (``FROM x AS name``), lower-cased."""
        return frozenset(s.alias.lower() for s in self.stages if s.alias)

    def is_stage_ref(self, base: str, before: int) -> bool:
        """True when ``base`` names an earlier stage rather than an image."""
        return any(s.alias and s.alias.lower() == base.lower() for s in self.stages[:before])


def _parse_from(value: str) -> tuple[str, str, str]:
    tokens = value.split()
    platform = ""
    while tokens and tokens[0].startswith("--"):
        flag = tokens.pop(0)
        if flag.lower().startswith("--platform="):
            platform = flag.split("=", 1)[1]
    base = tokens[0] if tokens else ""
    alias = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else ""
    return base, alias, platform


_HEREDOC = re.compile(r"<<-?([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")


def _absorb_heredocs(structure: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold BuildKit heredoc bodies (``RUN <<EOF ... EOF``) back into their instruction.

    ``dockerfile-parse`` reads each body line as an instruction of its own; the
    body becomes part of the instruction's value, one command per line.
    """
    out: list[dict[str, Any]] = []
    index = 0
    while index < len(structure):
        item = dict(structure[index])
        index += 1
        value = str(item.get("value", ""))
        markers = [m.group(2) for m in _HEREDOC.finditer(value)] if "<<" in value else []
        for marker in markers:
            body: list[str] = []
            while index < len(structure):
                line = str(structure[index].get("content", "")).rstrip("\n")
                index += 1
                if line.strip() == marker:
                    item["endline"] = structure[index - 1].get("endline", item.get("endline", 0))
                    break
                body.append(line)
                item["endline"] = structure[index - 1].get("endline", item.get("endline", 0))
            item["value"] = str(item["value"]) + "\n" + "\n".join(body)
            item["content"] = str(item.get("content", "")) + "\n".join(body) + "\n" + marker
        out.append(item)
    return out


def parse_dockerfile(content: bytes, label: str) -> Dockerfile:
    """Parse ``content``; raise ``AnalyzerError`` when it is not a Dockerfile at all."""
    if len(content) > MAX_BYTES:
        raise AnalyzerError(f"{label}: Dockerfile larger than {MAX_BYTES} bytes")
    if b"\x00" in content[:4096]:
        raise AnalyzerError(f"{label}: binary content, not a Dockerfile")
    try:
        text = content.decode("utf-8", errors="replace")
        parser = DockerfileParser(fileobj=io.StringIO(text), env_replace=False)
        structure: list[dict[str, Any]] = [dict(item) for item in parser.structure]
    except Exception as exc:  # the library raises assorted errors on odd input
        raise AnalyzerError(f"{label}: cannot parse Dockerfile: {type(exc).__name__}: {exc}") from exc
    instructions: list[Instruction] = []
    stage = -1
    items = iter(_absorb_heredocs(structure))
    for item in items:
        cmd = str(item.get("instruction", "")).upper()
        if cmd == "COMMENT" or not cmd:
            continue
        if cmd == "FROM":
            stage += 1
        instructions.append(
            Instruction(
                cmd=cmd,
                value=str(item.get("value", "")),
                original=str(item.get("content", "")).rstrip("\n"),
                line=int(item.get("startline", 0)) + 1,
                end_line=int(item.get("endline", 0)) + 1,
                stage=stage,
            )
        )
    stages: list[Stage] = []
    froms = [i for i in instructions if i.cmd == "FROM"]
    for index, first in enumerate(froms):
        base, alias, platform = _parse_from(first.value)
        members = tuple(i for i in instructions if i.stage == index and i is not first)
        end = members[-1].end_line if members else first.end_line
        stages.append(Stage(index, base, alias, platform, first.line, end, members))
    return Dockerfile(tuple(instructions), tuple(stages))


def _document(dockerfile: Dockerfile) -> YamlMap:
    """Plain form for the condition language, with lines: ``stages[*].instructions[*]``."""

    def instruction_map(i: Instruction) -> YamlMap:
        item = YamlMap()
        item.start, item.end = i.line, i.end_line
        for key, value in (("cmd", i.cmd), ("value", i.value), ("args", i.args()), ("stage", i.stage)):
            item[key] = value
            item.key_lines[key] = (i.line, i.end_line)
        return item

    doc = YamlMap()
    all_items = YamlList()
    for i in dockerfile.instructions:
        all_items.append(instruction_map(i))
        all_items.item_lines.append((i.line, i.end_line))
    stages = YamlList()
    for s in dockerfile.stages:
        stage = YamlMap()
        stage.start, stage.end = s.line, s.end_line
        stage.update({"base": s.base, "alias": s.alias, "platform": s.platform, "index": s.index})
        members = YamlList()
        for i in s.instructions:
            members.append(instruction_map(i))
            members.item_lines.append((i.line, i.end_line))
        stage["instructions"] = members
        stages.append(stage)
        stages.item_lines.append((s.line, s.end_line))
    doc["instructions"] = all_items
    doc["stages"] = stages
    if dockerfile.instructions:
        doc.start, doc.end = dockerfile.instructions[0].line, dockerfile.instructions[-1].end_line
    return doc


class DockerfileInput:
    """Parser for the ``dockerfile`` input kind."""

    input = InputKind.DOCKERFILE

    def claims(self, path: str, info: FileInfo) -> bool:
        """Dockerfile-like names up to 1 MiB."""
        return info.size <= MAX_BYTES and is_dockerfile_name(path)

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``Dockerfile`` resource for the whole file."""
        dockerfile = parse_dockerfile(content, path)
        if not dockerfile.instructions:
            return None
        text = content.decode("utf-8", errors="replace")
        suppressions, quiet = scan_lines(text)
        first = dockerfile.instructions[0].line
        resource = Resource(
            input=self.input,
            kind="Dockerfile",
            name="",
            path=path,
            data=dockerfile,
            line=first,
            end_line=dockerfile.instructions[-1].end_line,
            document=_document(dockerfile),
            scoped=False,
        )
        return ParsedFile(path, self.input, (resource,), suppressions, first - 1, quiet)
