"""Just enough shell parsing for checks of ``RUN`` lines and container commands.

Nothing is executed: the text is split into pipelines and commands on
``&&``, ``||``, ``;``, ``&``, ``|`` and newlines, with shell quoting
honoured where it is well-formed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_SEPARATORS = frozenset({"&&", "||", ";", "&", ";;", "(", ")", "{", "}", "\n"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = frozenset({"sudo", "env", "nice", "nohup", "time", "exec", "command", "doas", "xargs"})
SHELLS = frozenset({"sh", "bash", "zsh", "ash", "dash", "ksh", "fish", "busybox"})
MAX_TEXT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command: its words, and the program once wrappers (``sudo``, ``env``) are skipped."""

    words: tuple[str, ...]
    program: str
    args: tuple[str, ...]
    raw_first: str


def _tokens(text: str) -> list[str]:
    text = text[:MAX_TEXT]
    if text.startswith("<<"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    prepared = text.replace("\\\n", " ").replace("\n", " ; ")
    lexer = shlex.shlex(prepared, posix=True, punctuation_chars=";&|(){}")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: fall back to whitespace and operators
        return re.findall(r"&&|\|\||[;&|(){}]|[^\s;&|(){}]+", prepared)


def _command(words: list[str]) -> Command | None:
    index = 0
    while index < len(words) and _ASSIGNMENT.match(words[index]):
        index += 1
    if index >= len(words):
        return None
    raw_first = words[index]
    while index < len(words) and (words[index] in _WRAPPERS or words[index].startswith("-")):
        index += 1
        while index < len(words) and _ASSIGNMENT.match(words[index]):
            index += 1
    program = words[index] if index < len(words) else raw_first
    program = program.rsplit("/", 1)[-1]
    args = tuple(words[index + 1 :]) if index < len(words) else ()
    return Command(tuple(words), program, args, raw_first.rsplit("/", 1)[-1])


def pipelines(text: str) -> list[list[Command]]:
    """Commands grouped into pipelines (``curl ... | sh`` is one pipeline of two commands)."""
    out: list[list[Command]] = []
    current: list[Command] = []
    words: list[str] = []

    def flush_command() -> None:
        if words:
            command = _command(words)
            if command is not None:
                current.append(command)
            words.clear()

    for token in _tokens(text):
        if token == "|":
            flush_command()
        elif token in _SEPARATORS or token in ("&&", "||"):
            flush_command()
            if current:
                out.append(list(current))
                current.clear()
        else:
            words.append(token)
    flush_command()
    if current:
        out.append(current)
    return out


def commands(text: str) -> list[Command]:
    """Every simple command of ``text``, in order."""
    return [c for line in pipelines(text) for c in line]


def has_flag(command: Command, *flags: str) -> bool:
    """True when any of ``flags`` is among the arguments (``-y`` also matches bundled ``-qy``)."""
    for arg in command.args:
        if arg in flags:
            return True
        if "=" in arg and arg.split("=", 1)[0] in flags:
            return True
        if arg.startswith("-") and not arg.startswith("--"):
            short = {f[1] for f in flags if len(f) == 2 and f.startswith("-") and f[1] != "-"}
            if short and any(ch in short for ch in arg[1:]):
                return True
    return False


def subcommand(command: Command) -> str:
    """First argument that is not an option (``install`` of ``apt-get -y install x``)."""
    return next((a for a in command.args if not a.startswith("-")), "")
