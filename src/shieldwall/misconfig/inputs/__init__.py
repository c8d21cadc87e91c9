"""Input parsers: one module per kind of file the checks read.

A parser answers ``claims(path, info)`` cheaply (a file-name test, called for
every file of every layer) and ``parse(path, content)`` which returns a
``ParsedFile`` or ``None`` when the content turns out not to be its kind
(a YAML file that is not a Kubernetes manifest). ``parse`` never looks at the
file name, so a fixture named ``bad.yaml`` parses like ``deployment.yaml``.
Malformed input raises ``AnalyzerError`` (a warning for that one file).

To add an input kind: write a parser module here and list it in
``builtin_parsers`` (file-based inputs) or ``fixture_parsers`` (inputs that do
not come from files, such as the image config, still need a parser so their
checks' fixtures can be loaded).
"""

from __future__ import annotations

from typing import Protocol

from shieldwall.analyze.base import FileInfo
from shieldwall.misconfig.check import ParsedFile


class InputParser(Protocol):
    """Turns one file into resources of one input kind."""

    input: str

    def claims(self, path: str, info: FileInfo) -> bool:
        """True when ``path`` may hold this kind of input (cheap: a name test)."""
        ...

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """Resources of ``content``, or ``None`` when it is not this kind of input."""
        ...


def builtin_parsers() -> list[InputParser]:
    """Parsers the misconfig analyzer offers every file to, in order (first claim wins)."""
    from shieldwall.misconfig.inputs import compose, dockerfile, kubernetes

    parsers: list[InputParser] = [dockerfile.DockerfileInput(), compose.ComposeInput(), kubernetes.KubernetesInput()]
    from shieldwall.misconfig.inputs import terraform

    parsers.append(terraform.TerraformInput())
    return parsers


def fixture_parsers() -> dict[str, InputParser]:
    """Input kind -> parser, for every kind a check may target (used by fixtures and custom checks)."""
    from shieldwall.misconfig.inputs import imageconfig

    parsers: dict[str, InputParser] = {p.input: p for p in builtin_parsers()}
    for extra in (imageconfig.ImageConfigInput(), imageconfig.FileModeInput()):
        parsers[extra.input] = extra
    from shieldwall.misconfig.inputs.host import host_parsers

    parsers.update({p.input: p for p in host_parsers()})  # host scans read these files in misconfig.hostscan
    return parsers
