"""Dockerfile checks (input ``dockerfile``): users, base images, ADD, secrets, package managers, shell."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, InputKind, Resource, check
from shieldwall.misconfig.checks._common import (
    CIS_DOCKER,
    NIST,
    PCI,
    literal_secret,
    parse_image,
    secret_like_name,
)
from shieldwall.misconfig.checks._shell import SHELLS, Command, commands, has_flag, pipelines, subcommand
from shieldwall.misconfig.inputs.dockerfile import Dockerfile, Instruction, Stage
from shieldwall.model import Severity

DF = InputKind.DOCKERFILE
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
BEST_PRACTICES = "https://docs.docker.com/build/building/best-practices/"
_ARCHIVE = re.compile(r"\.(?:tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|tar\.lz|tlz)$", re.IGNORECASE)
_URL = re.compile(r"^(?:https?|ftp)://|^git@", re.IGNORECASE)
_ROOT_USERS = frozenset({"root", "0"})


def _df(resource: Resource) -> Dockerfile:
    data = resource.data
    assert isinstance(data, Dockerfile)
    return data


def _at(stage: Stage, item: Instruction, message: str, key: str = "") -> Hit:
    return Hit(message, item.line, item.end_line, stage.ref(item.cmd), key or item.value[:200], item.original[:500])


def _instructions(df: Dockerfile, *cmds: str) -> Iterator[tuple[Stage, Instruction]]:
    for stage in df.stages:
        for item in stage.instructions:
            if item.cmd in cmds:
                yield stage, item


def _runs(df: Dockerfile) -> Iterator[tuple[Stage, Instruction, list[Command]]]:
    for stage, item in _instructions(df, "RUN"):
        yield stage, item, commands(item.args())


def _effective_user(df: Dockerfile) -> tuple[Stage, Instruction] | None:
    """The USER instruction that decides the final image's user, following stage aliases."""
    index = len(df.stages) - 1
    seen: set[int] = set()
    while 0 <= index < len(df.stages) and index not in seen:
        seen.add(index)
        stage = df.stages[index]
        users = [i for i in stage.instructions if i.cmd == "USER"]
        if users:
            return stage, users[-1]
        parent = next(
            (s.index for s in df.stages[:index] if s.alias and s.alias.lower() == stage.base.lower()),
            None,
        )
        if parent is None:
            return None
        index = parent
    return None


def _user_name(item: Instruction) -> str:
    return item.args().strip().split(":", 1)[0].strip().lower()


@check(
    "SW-DF-001",
    "Image runs as root: no USER instruction",
    MEDIUM,
    DF,
    description="The final stage never sets USER, so the container's process runs as root unless the "
    "runtime overrides it. A root process that escapes the container is root on the host.",
    remediation="Create an unprivileged user and add 'USER <name>' to the final stage.",
    controls=(f"{CIS_DOCKER}:4.1", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
    references=(BEST_PRACTICES,),
)
def _no_user(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    final = df.final
    if final is None or (final.base.lower() == "scratch" and not final.instructions):
        return
    if _effective_user(df) is None:
        yield Hit(
            "final stage has no USER instruction; the container runs as root",
            final.line,
            final.end_line,
            final.ref("FROM"),
            found=final.base,
        )


@check(
    "SW-DF-002",
    "Image runs as root: last USER is root",
    HIGH,
    DF,
    description="The last USER instruction of the final stage names root (or UID 0).",
    remediation="Switch to an unprivileged user at the end of the Dockerfile: 'USER app' or 'USER 10001'.",
    controls=(f"{CIS_DOCKER}:4.1", f"{NIST}:4.4.3", f"{PCI}:2.2.1"),
    references=(BEST_PRACTICES,),
)
def _root_user(resource: Resource) -> Iterator[Hit]:
    found = _effective_user(_df(resource))
    if found is not None and _user_name(found[1]) in _ROOT_USERS:
        yield _at(found[0], found[1], "the last USER is root")


def _bases(df: Dockerfile) -> Iterator[tuple[Stage, Instruction]]:
    for index, stage in enumerate(df.stages):
        base = stage.base
        if not base or base.lower() == "scratch" or df.is_stage_ref(base, index):
            continue
        first = next(i for i in df.instructions if i.cmd == "FROM" and i.line == stage.line)
        yield stage, first


@check(
    "SW-DF-003",
    "Base image uses the 'latest' tag or no tag",
    MEDIUM,
    DF,
    description="A base image without a tag (or tagged 'latest') changes under you: builds are not "
    "reproducible and can silently pick up a broken or compromised image.",
    remediation="Pin the base image to a specific version tag, ideally with a digest: 'FROM debian:12.5@sha256:...'.",
    controls=(f"{CIS_DOCKER}:4.2", f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
    references=(BEST_PRACTICES,),
)
def _latest_base(resource: Resource) -> Iterator[Hit]:
    for stage, item in _bases(_df(resource)):
        image = parse_image(stage.base)
        if not image.variable and image.unpinned:
            yield Hit(
                f"base image {stage.base!r} is not pinned to a version",
                item.line,
                item.end_line,
                stage.ref("FROM"),
                stage.base,
                item.original,
            )


@check(
    "SW-DF-004",
    "Base image is not pinned by digest",
    LOW,
    DF,
    description="A tag can be moved to another image; only a digest names exact content.",
    remediation="Add the digest to the FROM line: 'FROM python:3.12-slim@sha256:<digest>'.",
    controls=(f"{CIS_DOCKER}:4.2", f"{NIST}:4.2.2"),
    references=(BEST_PRACTICES,),
)
def _no_digest(resource: Resource) -> Iterator[Hit]:
    for stage, item in _bases(_df(resource)):
        image = parse_image(stage.base)
        if not image.variable and not image.pinned_digest:
            yield Hit(
                f"base image {stage.base!r} has no digest",
                item.line,
                item.end_line,
                stage.ref("FROM"),
                stage.base,
                item.original,
            )


def _add_sources(item: Instruction) -> list[str]:
    words = item.words()
    return [w for w in words[:-1]] if len(words) >= 2 else []


@check(
    "SW-DF-005",
    "ADD downloads a remote URL",
    MEDIUM,
    DF,
    description="ADD with a URL fetches content at build time without any integrity check and keeps it "
    "in a layer; the remote content can change or be tampered with.",
    remediation="Download with curl or wget in a RUN step that verifies a checksum, or use "
    "'ADD --checksum=sha256:...'.",
    controls=(f"{CIS_DOCKER}:4.9", f"{NIST}:4.1.5"),
    references=(BEST_PRACTICES,),
)
def _add_url(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "ADD"):
        if "checksum" in item.flags():
            continue
        urls = [s for s in _add_sources(item) if _URL.match(s)]
        if urls:
            yield _at(stage, item, f"ADD fetches {urls[0]}")


@check(
    "SW-DF-006",
    "ADD used where COPY suffices",
    LOW,
    DF,
    description="ADD also extracts archives and fetches URLs; for plain local files that hidden magic is "
    "a risk (an archive planted in the build context gets unpacked).",
    remediation="Use COPY for local files and directories; keep ADD for local tar archives you want extracted.",
    controls=(f"{CIS_DOCKER}:4.9",),
    references=(BEST_PRACTICES,),
)
def _add_local(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "ADD"):
        sources = _add_sources(item)
        words = item.words()
        if not sources or any(_URL.match(s) for s in sources):
            continue
        destination = words[-1] if words else ""
        archives_into_dir = all(_ARCHIVE.search(s) for s in sources) and not re.search(
            r"\.[A-Za-z0-9]{1,5}$", destination
        )
        if not archives_into_dir:
            yield _at(stage, item, "ADD copies local files; use COPY")


def _key_values(item: Instruction) -> list[tuple[str, str]]:
    """``ENV A=1 B=2`` / ``ENV A 1`` / ``ARG A=1`` -> pairs (value '' when absent)."""
    text = item.args().strip()
    words = item.words()
    if not words:
        return []
    if "=" not in words[0]:
        name, _, value = text.partition(" ")
        return [(name, value.strip())] if item.cmd == "ENV" else [(w, "") for w in words]
    return [(w.split("=", 1)[0], w.split("=", 1)[1]) if "=" in w else (w, "") for w in words]


@check(
    "SW-DF-007",
    "Secret in ENV",
    HIGH,
    DF,
    description="An ENV value is stored in the image config and visible to anyone who can pull the "
    "image ('docker inspect'); a password or token there is published with the image.",
    remediation="Pass secrets at run time (orchestrator secrets, mounted files) or at build time with "
    "'RUN --mount=type=secret'.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
    references=("https://docs.docker.com/build/building/secrets/",),
)
def _env_secret(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "ENV"):
        for name, value in _key_values(item):
            if secret_like_name(name) and literal_secret(value):
                yield _at(stage, item, f"ENV {name} holds a literal secret", key=name)


@check(
    "SW-DF-008",
    "Secret passed as a build argument",
    HIGH,
    DF,
    description="ARG values are recorded in the image history; a default value for a secret-looking "
    "ARG ships the secret, and even without a default the value given at build time is kept.",
    remediation="Use BuildKit secrets ('RUN --mount=type=secret,id=...') instead of ARG for credentials.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
    references=("https://docs.docker.com/build/building/secrets/",),
)
def _arg_secret(resource: Resource) -> Iterator[Hit]:
    for stage_or_none, item in _all_of(_df(resource), "ARG"):
        for name, value in _key_values(item):
            if secret_like_name(name) and literal_secret(value):
                yield Hit(
                    f"ARG {name} has a literal secret default",
                    item.line,
                    item.end_line,
                    stage_or_none.ref("ARG") if stage_or_none else None,
                    name,
                    item.original,
                )


@check(
    "SW-DF-009",
    "Build argument named like a secret",
    MEDIUM,
    DF,
    description="Whatever value is passed for this ARG at build time is recorded in the image history.",
    remediation="Use 'RUN --mount=type=secret' for credentials needed during the build.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4"),
    references=("https://docs.docker.com/build/building/secrets/",),
)
def _arg_secret_name(resource: Resource) -> Iterator[Hit]:
    for stage_or_none, item in _all_of(_df(resource), "ARG"):
        for name, value in _key_values(item):
            if secret_like_name(name) and not literal_secret(value):
                yield Hit(
                    f"ARG {name} will carry a secret into the image history",
                    item.line,
                    item.end_line,
                    stage_or_none.ref("ARG") if stage_or_none else None,
                    name,
                    item.original,
                )


def _all_of(df: Dockerfile, cmd: str) -> Iterator[tuple[Stage | None, Instruction]]:
    """Instructions of ``cmd`` including those before the first FROM (global ARGs)."""
    for item in df.instructions:
        if item.cmd != cmd:
            continue
        stage = next((s for s in df.stages if s.line <= item.line <= s.end_line and item in s.instructions), None)
        yield stage, item


def _piped_to_shell(line: list[Command]) -> bool:
    fetch = next((i for i, c in enumerate(line) if c.program in ("curl", "wget")), None)
    if fetch is None:
        return False
    return any(
        c.program in SHELLS or c.program.startswith("python") or c.program in ("perl", "ruby", "node")
        for c in line[fetch + 1 :]
    )


_SUBST_FETCH = re.compile(r"(?:\$\(|`|<\()\s*(?:curl|wget)\b")


@check(
    "SW-DF-010",
    "Remote script piped into a shell",
    HIGH,
    DF,
    description="'curl ... | sh' runs whatever the server returns, unverified, as the build user.",
    remediation="Download the script, verify its checksum or signature, then run it; or install from a "
    "package repository.",
    controls=(f"{CIS_DOCKER}:4.11", f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
)
def _curl_sh(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "RUN"):
        text = item.args()
        if any(_piped_to_shell(line) for line in pipelines(text)) or (
            _SUBST_FETCH.search(text) and re.search(r"\b(?:sh|bash|zsh|ash|dash)\b", text)
        ):
            yield _at(stage, item, "a downloaded script is executed without verification")


_UPDATE = {"apt-get": "update", "apt": "update", "apk": "update", "yum": "makecache", "dnf": "makecache"}
_INSTALL = {"apt-get": "install", "apt": "install", "apk": "add", "yum": "install", "dnf": "install"}


@check(
    "SW-DF-011",
    "Package index update alone in a RUN instruction",
    MEDIUM,
    DF,
    description="'apt-get update' in its own RUN is cached as a layer: later installs use a stale index "
    "and miss security updates.",
    remediation="Combine update and install in one RUN: 'RUN apt-get update && apt-get install -y ...'.",
    controls=(f"{CIS_DOCKER}:4.7", f"{NIST}:4.1.1"),
    references=(BEST_PRACTICES,),
)
def _update_alone(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        updated = {c.program for c in cmds if c.program in _UPDATE and subcommand(c) in ("update", "makecache")}
        for tool in updated:
            installs = any(
                c.program in (tool, "apt-get", "apt") and subcommand(c) in ("install", "add", "upgrade") for c in cmds
            )
            if not installs:
                yield _at(stage, item, f"'{tool} update' without an install in the same RUN", key=tool)


def _apt_installs(cmds: list[Command]) -> list[Command]:
    return [c for c in cmds if c.program in ("apt-get", "apt") and subcommand(c) == "install"]


@check(
    "SW-DF-012",
    "apt-get install without --no-install-recommends",
    LOW,
    DF,
    description="Recommended packages enlarge the image and its attack surface with software nobody asked for.",
    remediation="Add --no-install-recommends to apt-get install.",
    controls=(f"{CIS_DOCKER}:4.3", f"{NIST}:4.1.1"),
    references=(BEST_PRACTICES,),
)
def _no_recommends(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(not has_flag(c, "--no-install-recommends") for c in _apt_installs(cmds)):
            yield _at(stage, item, "apt-get install pulls in recommended packages")


@check(
    "SW-DF-013",
    "apt package lists not removed after install",
    LOW,
    DF,
    description="The apt lists stay in the layer, adding size and stale metadata.",
    remediation="End the RUN with 'rm -rf /var/lib/apt/lists/*'.",
    controls=(f"{NIST}:4.1.1",),
    references=(BEST_PRACTICES,),
)
def _apt_lists(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if not _apt_installs(cmds):
            continue
        text = item.args()
        if "/var/lib/apt/lists" not in text and not any(
            c.program in ("apt-get", "apt") and subcommand(c) in ("clean", "distclean") for c in cmds
        ):
            yield _at(stage, item, "apt lists are left in the layer")


@check(
    "SW-DF-014",
    "apt-get install without -y",
    LOW,
    DF,
    description="Without -y, apt-get waits for confirmation and the build fails or hangs.",
    remediation="Use 'apt-get install -y'.",
    references=(BEST_PRACTICES,),
)
def _apt_yes(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        for c in _apt_installs(cmds):
            if not has_flag(c, "-y", "--yes", "--assume-yes", "-q", "--quiet", "-qq"):
                yield _at(stage, item, "apt-get install asks for confirmation")
                break


@check(
    "SW-DF-015",
    "sudo used in RUN",
    MEDIUM,
    DF,
    description="Build steps already run as the current USER; sudo in images adds a setuid binary and "
    "unpredictable TTY and signal behaviour.",
    remediation="Run privileged steps before switching USER, and do not install sudo in the image.",
    controls=(f"{CIS_DOCKER}:4.3", f"{NIST}:4.4.3"),
    references=(BEST_PRACTICES,),
)
def _sudo(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.raw_first == "sudo" for c in cmds):
            yield _at(stage, item, "RUN uses sudo")


def _ports(item: Instruction) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for word in item.words():
        text = word.split("/", 1)[0]
        if "-" in text:
            low, _, high = text.partition("-")
            out.append((word, int(low) if low.isdigit() else None))
            out.append((word, int(high) if high.isdigit() else None))
        else:
            out.append((word, int(text) if text.isdigit() else None))
    return out


@check(
    "SW-DF-016",
    "SSH port exposed",
    MEDIUM,
    DF,
    description="Exposing port 22 suggests an SSH daemon in the container: another way in, with its own "
    "credentials to manage. Use 'docker exec' or 'kubectl exec' instead.",
    remediation="Remove 'EXPOSE 22' and the SSH server from the image.",
    controls=(f"{CIS_DOCKER}:5.6", f"{NIST}:4.4.2"),
)
def _ssh_port(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "EXPOSE"):
        for word, port in _ports(item):
            if port == 22:
                yield _at(stage, item, f"EXPOSE {word}", key=word)


@check(
    "SW-DF-017",
    "No HEALTHCHECK instruction",
    LOW,
    DF,
    description="Without a HEALTHCHECK the engine cannot tell a hung container from a healthy one.",
    remediation="Add 'HEALTHCHECK CMD <probe>' to the final stage.",
    controls=(f"{CIS_DOCKER}:4.6",),
    references=("https://docs.docker.com/reference/dockerfile/#healthcheck",),
)
def _no_healthcheck(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    final = df.final
    if final is None:
        return
    if not any(i.cmd == "HEALTHCHECK" for s in df.stages for i in s.instructions):
        yield Hit("no HEALTHCHECK instruction", final.line, final.line, final.ref("FROM"), found=final.base)


@check(
    "SW-DF-018",
    "pip install without --no-cache-dir",
    LOW,
    DF,
    description="pip's download cache stays in the layer and enlarges the image.",
    remediation="Use 'pip install --no-cache-dir' (or set PIP_NO_CACHE_DIR=1).",
    references=(BEST_PRACTICES,),
)
def _pip_cache(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    if any("PIP_NO_CACHE_DIR" in i.value for i in df.instructions if i.cmd == "ENV"):
        return
    for stage, item, cmds in _runs(df):
        for c in cmds:
            pip = c.program.startswith("pip") or (c.program.startswith("python") and c.args[:2] == ("-m", "pip"))
            if pip and "install" in c.args and not has_flag(c, "--no-cache-dir"):
                yield _at(stage, item, "pip install keeps its cache in the layer")
                break


_SYMBOLIC_WORLD_WRITE = re.compile(r"^(?:[ugo]*[ao][ugo]*)?[+=][rwxXst]*w")


def _world_writable(mode: str) -> bool:
    """``777``, ``0666``, ``o+w``, ``a+rwx``, ``+w`` (every clause of ``u+x,o+w`` is tried)."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return bool(int(mode[-1]) & 2)
    return any(_SYMBOLIC_WORLD_WRITE.match(part) for part in mode.split(","))


@check(
    "SW-DF-019",
    "World-writable permissions set with chmod",
    MEDIUM,
    DF,
    description="chmod 777 (or o+w) lets any user in the container replace files, including executables.",
    remediation="Grant only what is needed (e.g. 755 for programs, 644 for data) and chown to the app user.",
    controls=(f"{NIST}:4.4.3",),
)
def _chmod_777(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    for stage, item, cmds in _runs(df):
        for c in cmds:
            modes = [a for a in c.args if not a.startswith("-") or re.fullmatch(r"-[rwxXst]+", a)]
            if c.program == "chmod" and modes and _world_writable(modes[0]):
                yield _at(stage, item, f"chmod {modes[0]} makes files world-writable")
                break
    for stage, item in _instructions(df, "COPY", "ADD"):
        mode = item.flags().get("chmod", "")
        if mode and _world_writable(mode):
            yield _at(stage, item, f"--chmod={mode} makes files world-writable")


@check(
    "SW-DF-020",
    "MAINTAINER is deprecated",
    LOW,
    DF,
    description="MAINTAINER has been deprecated since Docker 1.13.",
    remediation="Use 'LABEL org.opencontainers.image.authors=\"...\"'.",
    references=("https://docs.docker.com/reference/dockerfile/#maintainer-deprecated",),
)
def _maintainer(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "MAINTAINER"):
        yield _at(stage, item, "MAINTAINER is deprecated")


def _duplicates(resource: Resource, cmd: str) -> Iterator[Hit]:
    for stage in _df(resource).stages:
        found = [i for i in stage.instructions if i.cmd == cmd]
        for item in found[:-1]:
            yield _at(stage, item, f"{cmd} is overridden by a later {cmd} in the same stage")


@check(
    "SW-DF-021",
    "More than one CMD in a stage",
    LOW,
    DF,
    description="Only the last CMD of a stage takes effect; the others mislead readers.",
    remediation="Keep one CMD per stage.",
    references=("https://docs.docker.com/reference/dockerfile/#cmd",),
)
def _multiple_cmd(resource: Resource) -> Iterator[Hit]:
    yield from _duplicates(resource, "CMD")


@check(
    "SW-DF-022",
    "More than one ENTRYPOINT in a stage",
    LOW,
    DF,
    description="Only the last ENTRYPOINT of a stage takes effect.",
    remediation="Keep one ENTRYPOINT per stage.",
    references=("https://docs.docker.com/reference/dockerfile/#entrypoint",),
)
def _multiple_entrypoint(resource: Resource) -> Iterator[Hit]:
    yield from _duplicates(resource, "ENTRYPOINT")


@check(
    "SW-DF-023",
    "More than one HEALTHCHECK in a stage",
    LOW,
    DF,
    description="Only the last HEALTHCHECK of a stage takes effect.",
    remediation="Keep one HEALTHCHECK per stage.",
    references=("https://docs.docker.com/reference/dockerfile/#healthcheck",),
)
def _multiple_healthcheck(resource: Resource) -> Iterator[Hit]:
    yield from _duplicates(resource, "HEALTHCHECK")


@check(
    "SW-DF-024",
    "cd used in RUN instead of WORKDIR",
    LOW,
    DF,
    description="'RUN cd dir' does not persist to the next instruction and makes the build hard to follow.",
    remediation="Use 'WORKDIR /path' to change directory.",
    references=(BEST_PRACTICES,),
)
def _cd(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.program == "cd" and c.raw_first == "cd" for c in cmds):
            yield _at(stage, item, "RUN changes directory with cd")


@check(
    "SW-DF-025",
    "WORKDIR is not an absolute path",
    LOW,
    DF,
    description="A relative WORKDIR depends on the previous one and is easy to get wrong.",
    remediation="Use an absolute path: 'WORKDIR /app'.",
    references=("https://docs.docker.com/reference/dockerfile/#workdir",),
)
def _workdir_relative(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "WORKDIR"):
        path = item.args().strip().strip("\"'")
        if path and not path.startswith(("/", "$", "%")) and not re.match(r"^[A-Za-z]:[\\/]", path):
            yield _at(stage, item, f"WORKDIR {path} is relative")


@check(
    "SW-DF-026",
    "COPY --from refers to its own stage",
    LOW,
    DF,
    description="A stage cannot copy from itself; the build fails or copies from an unexpected image.",
    remediation="Point --from at an earlier stage or an image.",
    references=("https://docs.docker.com/build/building/multi-stage/",),
)
def _copy_self(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "COPY"):
        source = item.flags().get("from", "")
        if source and stage.alias and source.lower() == stage.alias.lower():
            yield _at(stage, item, f"COPY --from={source} names the current stage")


@check(
    "SW-DF-027",
    "Stage alias used twice",
    LOW,
    DF,
    description="Two FROM instructions with the same alias make --from ambiguous.",
    remediation="Give every stage a unique name.",
    references=("https://docs.docker.com/build/building/multi-stage/",),
)
def _duplicate_alias(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    seen: set[str] = set()
    for stage in df.stages:
        alias = stage.alias.lower()
        if not alias:
            continue
        if alias in seen:
            first = next(i for i in df.instructions if i.cmd == "FROM" and i.line == stage.line)
            yield _at(stage, first, f"alias {stage.alias!r} is already used by an earlier stage")
        seen.add(alias)


@check(
    "SW-DF-028",
    "COPY with several sources to a destination without a trailing slash",
    LOW,
    DF,
    description="With more than one source, the destination must be a directory ending in '/'.",
    remediation="End the destination with '/'.",
    references=("https://docs.docker.com/reference/dockerfile/#copy",),
)
def _copy_slash(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "COPY"):
        if "<<" in item.value:
            continue
        words = item.words()
        if len(words) > 2 and not words[-1].endswith(("/", "\\")) and "$" not in words[-1]:
            yield _at(stage, item, "destination of a multi-source COPY does not end with '/'")


@check(
    "SW-DF-029",
    "EXPOSE port outside 0-65535",
    LOW,
    DF,
    description="A port number above 65535 is invalid.",
    remediation="Expose a valid port.",
    references=("https://docs.docker.com/reference/dockerfile/#expose",),
)
def _bad_port(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "EXPOSE"):
        for word, port in _ports(item):
            if port is not None and port > 65535:
                yield _at(stage, item, f"port {word} is out of range", key=word)


@check(
    "SW-DF-030",
    "Distribution upgrade in RUN",
    LOW,
    DF,
    description="'apt-get dist-upgrade' changes the base image's release inside a layer; rebuild on a "
    "newer base image instead.",
    remediation="Use a newer base image tag instead of dist-upgrade.",
    references=(BEST_PRACTICES,),
)
def _dist_upgrade(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.program in ("apt-get", "apt") and subcommand(c) in ("dist-upgrade", "full-upgrade") for c in cmds):
            yield _at(stage, item, "RUN upgrades the distribution")


@check(
    "SW-DF-031",
    "Both wget and curl are used",
    LOW,
    DF,
    description="Installing two download tools doubles the tooling an attacker can use; pick one.",
    remediation="Use either curl or wget throughout the Dockerfile.",
)
def _wget_and_curl(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    first: dict[str, tuple[Stage, Instruction]] = {}
    for stage, item, cmds in _runs(df):
        for c in cmds:
            if c.program in ("wget", "curl") and c.program not in first:
                first[c.program] = (stage, item)
    if len(first) == 2:
        stage, item = first["wget"]
        yield _at(stage, item, "wget is used alongside curl")


def _manager_without_clean(
    resource: Resource, tool: str, install: tuple[str, ...], clean: re.Pattern[str], what: str
) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.program == tool and subcommand(c) in install for c in cmds) and not clean.search(item.args()):
            yield _at(stage, item, what)


@check(
    "SW-DF-032",
    "yum install without 'yum clean all'",
    LOW,
    DF,
    description="yum's cache stays in the layer.",
    remediation="End the RUN with 'yum clean all'.",
    references=(BEST_PRACTICES,),
)
def _yum_clean(resource: Resource) -> Iterator[Hit]:
    yield from _manager_without_clean(
        resource, "yum", ("install", "groupinstall", "localinstall"), re.compile(r"yum\s+clean\s+all"), "yum cache kept"
    )


@check(
    "SW-DF-033",
    "dnf install without 'dnf clean all'",
    LOW,
    DF,
    description="dnf's cache stays in the layer.",
    remediation="End the RUN with 'dnf clean all'.",
    references=(BEST_PRACTICES,),
)
def _dnf_clean(resource: Resource) -> Iterator[Hit]:
    for tool in ("dnf", "microdnf"):
        yield from _manager_without_clean(
            resource,
            tool,
            ("install", "groupinstall", "localinstall"),
            re.compile(rf"{tool}\s+clean\s+all|rm\s+-rf\s+/var/cache/(?:dnf|yum)"),
            f"{tool} cache kept",
        )


@check(
    "SW-DF-034",
    "zypper install without 'zypper clean'",
    LOW,
    DF,
    description="zypper's cache stays in the layer.",
    remediation="End the RUN with 'zypper clean' (or 'zypper cc').",
    references=(BEST_PRACTICES,),
)
def _zypper_clean(resource: Resource) -> Iterator[Hit]:
    yield from _manager_without_clean(
        resource,
        "zypper",
        ("install", "in", "remove", "rm", "source-install", "si", "patch"),
        re.compile(r"zypper\s+(?:-\S+\s+)*(?:clean|cc)\b"),
        "zypper cache kept",
    )


@check(
    "SW-DF-035",
    "apk add without --no-cache",
    LOW,
    DF,
    description="apk's index cache stays in the layer.",
    remediation="Use 'apk add --no-cache'.",
    references=(BEST_PRACTICES,),
)
def _apk_cache(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        for c in cmds:
            cached = c.program == "apk" and subcommand(c) == "add" and not has_flag(c, "--no-cache")
            if cached and "/var/cache/apk" not in item.args():
                yield _at(stage, item, "apk add keeps its cache")
                break


_SYSTEM_DIRS = (
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/lib",
    "/lib64",
    "/usr/lib",
    "/etc",
    "/lost+found",
    "/initrd",
    "/root",
)


@check(
    "SW-DF-036",
    "WORKDIR is a system directory",
    MEDIUM,
    DF,
    description="Working in /proc, /sys, /dev, /etc or a binary directory means later steps and the "
    "running process write into system locations.",
    remediation="Use a dedicated application directory such as /app.",
    controls=(f"{NIST}:4.4.3",),
)
def _workdir_system(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "WORKDIR"):
        path = item.args().strip().strip("\"'").rstrip("/")
        if (
            any(path == d or path.startswith(d + "/") for d in _SYSTEM_DIRS if d in ("/proc", "/sys", "/dev", "/boot"))
            or path in _SYSTEM_DIRS
        ):
            yield _at(stage, item, f"WORKDIR {path} is a system directory")


def _flagged(resource: Resource, tools: tuple[str, ...], flags: tuple[str, ...], what: str) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        for c in cmds:
            if c.program in tools and any(a in flags or a.split("=", 1)[0] in flags for a in c.args):
                yield _at(stage, item, what)
                break


@check(
    "SW-DF-037",
    "apt-get skips package signature checks",
    HIGH,
    DF,
    description="--allow-unauthenticated (or --force-yes) installs packages whose signatures are missing "
    "or invalid: a tampered package goes in unnoticed.",
    remediation="Remove the option and fix the repository's signing key.",
    controls=(f"{CIS_DOCKER}:4.11", f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
)
def _apt_unauthenticated(resource: Resource) -> Iterator[Hit]:
    yield from _flagged(
        resource,
        ("apt-get", "apt", "aptitude"),
        ("--allow-unauthenticated", "--force-yes", "--allow-insecure-repositories"),
        "apt installs unauthenticated packages",
    )


@check(
    "SW-DF-038",
    "apk installs untrusted packages",
    HIGH,
    DF,
    description="'apk --allow-untrusted' accepts packages without a valid signature.",
    remediation="Remove --allow-untrusted and install the repository's key.",
    controls=(f"{CIS_DOCKER}:4.11", f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
)
def _apk_untrusted(resource: Resource) -> Iterator[Hit]:
    yield from _flagged(resource, ("apk",), ("--allow-untrusted",), "apk accepts unsigned packages")


@check(
    "SW-DF-039",
    "yum/dnf skip GPG checks",
    HIGH,
    DF,
    description="--nogpgcheck installs packages without verifying their signatures.",
    remediation="Remove --nogpgcheck and import the repository's GPG key.",
    controls=(f"{CIS_DOCKER}:4.11", f"{NIST}:4.1.5", f"{PCI}:6.3.2"),
)
def _nogpgcheck(resource: Resource) -> Iterator[Hit]:
    yield from _flagged(
        resource,
        ("yum", "dnf", "microdnf", "tdnf", "zypper"),
        ("--nogpgcheck", "--no-gpg-checks"),
        "packages installed without GPG verification",
    )


@check(
    "SW-DF-040",
    "rpm skips signature or digest checks",
    HIGH,
    DF,
    description="rpm --nosignature/--nodigest/--noverify/--nofiledigest install unverified packages.",
    remediation="Remove the option and import the signing key with 'rpm --import'.",
    controls=(f"{CIS_DOCKER}:4.11", f"{NIST}:4.1.5"),
)
def _rpm_nosig(resource: Resource) -> Iterator[Hit]:
    yield from _flagged(
        resource,
        ("rpm",),
        ("--nosignature", "--nodigest", "--noverify", "--nofiledigest"),
        "rpm installs without verification",
    )


@check(
    "SW-DF-041",
    "curl disables certificate validation",
    MEDIUM,
    DF,
    description="curl -k/--insecure accepts any certificate, so a man in the middle can serve the download.",
    remediation="Remove -k/--insecure; install the CA certificate if a private CA is used.",
    controls=(f"{NIST}:4.1.5",),
)
def _curl_insecure(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.program == "curl" and (has_flag(c, "-k") or "--insecure" in c.args) for c in cmds):
            yield _at(stage, item, "curl runs with certificate validation disabled")


@check(
    "SW-DF-042",
    "wget disables certificate validation",
    MEDIUM,
    DF,
    description="wget --no-check-certificate accepts any certificate.",
    remediation="Remove --no-check-certificate.",
    controls=(f"{NIST}:4.1.5",),
)
def _wget_insecure(resource: Resource) -> Iterator[Hit]:
    yield from _flagged(resource, ("wget",), ("--no-check-certificate",), "wget skips certificate checks")


@check(
    "SW-DF-043",
    "pip trusts a host without TLS verification",
    MEDIUM,
    DF,
    description="pip --trusted-host turns off certificate checks for that index.",
    remediation="Serve the index over valid HTTPS and drop --trusted-host.",
    controls=(f"{NIST}:4.1.5",),
)
def _pip_trusted(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(
            (c.program.startswith("pip") or c.program.startswith("python"))
            and any(a == "--trusted-host" or a.startswith("--trusted-host=") for a in c.args)
            for c in cmds
        ):
            yield _at(stage, item, "pip --trusted-host disables certificate checks")


_TLS_ENV = {
    "PYTHONHTTPSVERIFY": re.compile(r"^0$"),
    "NODE_TLS_REJECT_UNAUTHORIZED": re.compile(r"^0$"),
    "NPM_CONFIG_STRICT_SSL": re.compile(r"^(?:false|0)$", re.IGNORECASE),
    "GIT_SSL_NO_VERIFY": re.compile(r".*"),
    "PIP_TRUSTED_HOST": re.compile(r".+"),
}


@check(
    "SW-DF-044",
    "Environment variable disables TLS verification",
    MEDIUM,
    DF,
    description="PYTHONHTTPSVERIFY=0, NODE_TLS_REJECT_UNAUTHORIZED=0, NPM_CONFIG_STRICT_SSL=false, "
    "GIT_SSL_NO_VERIFY or PIP_TRUSTED_HOST turn off certificate checks for every process of the image.",
    remediation="Remove the variable; install the right CA certificates instead.",
    controls=(f"{NIST}:4.1.5",),
)
def _tls_env(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "ENV", "ARG"):
        for name, value in _key_values(item):
            pattern = _TLS_ENV.get(name.upper())
            if pattern is not None and pattern.match(value.strip("\"'")):
                yield _at(stage, item, f"{name}={value} disables certificate validation", key=name)


@check(
    "SW-DF-045",
    "npm or yarn strict-ssl disabled",
    MEDIUM,
    DF,
    description="'npm config set strict-ssl false' accepts any registry certificate.",
    remediation="Keep strict-ssl on; configure the CA with 'npm config set cafile'.",
    controls=(f"{NIST}:4.1.5",),
)
def _npm_strict_ssl(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        for c in cmds:
            if c.program in ("npm", "yarn", "pnpm") and "strict-ssl" in " ".join(c.args):
                joined = " ".join(c.args).lower()
                if re.search(r"strict-ssl[= ]+false", joined):
                    yield _at(stage, item, f"{c.program} strict-ssl is turned off")
                    break


@check(
    "SW-DF-046",
    "yum/dnf configured without SSL verification",
    MEDIUM,
    DF,
    description="sslverify=0 (or false) in a repository configuration accepts any certificate.",
    remediation="Keep sslverify enabled.",
    controls=(f"{NIST}:4.1.5",),
)
def _sslverify(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "RUN"):
        if re.search(r"sslverify\s*=\s*(?:0|false|no)\b", item.args(), re.IGNORECASE):
            yield _at(stage, item, "package repository SSL verification disabled")


@check(
    "SW-DF-047",
    "chpasswd sets a password in the image",
    MEDIUM,
    DF,
    description="A password set during the build is stored in the image (and often in its history).",
    remediation="Do not set passwords in images; use key-based access or runtime secrets.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4"),
)
def _chpasswd(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.program == "chpasswd" for c in cmds):
            yield _at(stage, item, "chpasswd sets a password in a layer")


_SECRET_FILE = re.compile(
    r"(?:^|/)(?:id_(?:rsa|dsa|ecdsa|ed25519)|\.env(?:\.[\w-]+)?|\.npmrc|\.pypirc|\.netrc|\.git-credentials|"
    r"credentials(?:\.json)?|\.aws/credentials|\.docker/config\.json|.*\.(?:pem|key|p12|pfx|jks|keystore))$",
    re.IGNORECASE,
)


@check(
    "SW-DF-048",
    "Secret file copied into the image",
    MEDIUM,
    DF,
    description="Private keys, .env files and credential files copied into a layer stay in the image, "
    "even if a later step deletes them.",
    remediation="Use 'RUN --mount=type=secret' for build-time secrets and runtime secrets for the rest; "
    "list secret files in .dockerignore.",
    controls=(f"{CIS_DOCKER}:4.10", f"{NIST}:4.1.4", f"{PCI}:8.6.2"),
)
def _secret_file(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "COPY", "ADD"):
        if "from" in item.flags() or "<<" in item.value:
            continue
        sources = _add_sources(item)
        secrets = [s for s in sources if _SECRET_FILE.search(s.rstrip("/"))]
        if secrets:
            yield _at(stage, item, f"{secrets[0]} is copied into the image")


@check(
    "SW-DF-049",
    "apt used instead of apt-get",
    LOW,
    DF,
    description="apt's command-line interface is not stable for scripts and warns so on every run.",
    remediation="Use apt-get (or apt-cache) in Dockerfiles.",
)
def _apt_cli(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        if any(c.program == "apt" and subcommand(c) in ("install", "update", "upgrade", "remove") for c in cmds):
            yield _at(stage, item, "apt is used in a script")


@check(
    "SW-DF-050",
    "RUN with insecure security mode",
    HIGH,
    DF,
    description="'RUN --security=insecure' runs the step without the sandbox (like a privileged container).",
    remediation="Remove --security=insecure.",
    controls=(f"{CIS_DOCKER}:5.4", f"{NIST}:4.4.3"),
)
def _run_insecure(resource: Resource) -> Iterator[Hit]:
    for stage, item in _instructions(_df(resource), "RUN"):
        if item.flags().get("security", "").lower() == "insecure":
            yield _at(stage, item, "RUN step runs with --security=insecure")


@check(
    "SW-DF-051",
    "SSH server installed or started",
    MEDIUM,
    DF,
    description="An SSH daemon in a container is an extra entry point with its own credentials.",
    remediation="Remove openssh-server; use 'docker exec' / 'kubectl exec' for access.",
    controls=(f"{CIS_DOCKER}:5.6", f"{NIST}:4.4.2"),
)
def _sshd(resource: Resource) -> Iterator[Hit]:
    df = _df(resource)
    for stage, item, cmds in _runs(df):
        for c in cmds:
            if (
                subcommand(c) in ("install", "add")
                and c.program in ("apt-get", "apt", "apk", "yum", "dnf", "zypper")
                and any(a in ("openssh-server", "ssh-server", "dropbear") for a in c.args)
            ):
                yield _at(stage, item, "an SSH server is installed")
                break
    for stage, item in _instructions(df, "CMD", "ENTRYPOINT"):
        if any(w.rsplit("/", 1)[-1] == "sshd" for w in item.words()):
            yield _at(stage, item, "the container starts sshd")


@check(
    "SW-DF-052",
    "Package upgrade of the whole image in RUN",
    LOW,
    DF,
    description="'apt-get upgrade' / 'yum update' without packages make builds unreproducible; rebuild on a "
    "patched base image instead.",
    remediation="Use an up-to-date base image; upgrade only named packages when a fix is needed.",
    controls=(f"{NIST}:4.1.1",),
)
def _upgrade_all(resource: Resource) -> Iterator[Hit]:
    for stage, item, cmds in _runs(_df(resource)):
        for c in cmds:
            operands = [a for a in c.args if not a.startswith("-")]
            if (c.program in ("apt-get", "apt") and operands[:1] == ["upgrade"] and len(operands) == 1) or (
                c.program in ("yum", "dnf") and operands[:1] in (["update"], ["upgrade"]) and len(operands) == 1
            ):
                yield _at(stage, item, f"{c.program} {operands[0]} upgrades every package")
                break


CHECKS: tuple[Check, ...] = (
    _no_user, _root_user, _latest_base, _no_digest, _add_url, _add_local, _env_secret, _arg_secret,
    _arg_secret_name, _curl_sh, _update_alone, _no_recommends, _apt_lists, _apt_yes, _sudo, _ssh_port,
    _no_healthcheck, _pip_cache, _chmod_777, _maintainer, _multiple_cmd, _multiple_entrypoint,
    _multiple_healthcheck, _cd, _workdir_relative, _copy_self, _duplicate_alias, _copy_slash, _bad_port,
    _dist_upgrade, _wget_and_curl, _yum_clean, _dnf_clean, _zypper_clean, _apk_cache, _workdir_system,
    _apt_unauthenticated, _apk_untrusted, _nogpgcheck, _rpm_nosig, _curl_insecure, _wget_insecure,
    _pip_trusted, _tls_env, _npm_strict_ssl, _sslverify, _chpasswd, _secret_file, _apt_cli, _run_insecure,
    _sshd, _upgrade_all,
)  # fmt: skip
