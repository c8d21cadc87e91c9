"""Wazuh pre-decoding: split a raw line into timestamp, hostname, program name and message.

Follows the header formats Wazuh's analysis daemon recognises by fixed
character positions: ``Dec 29 10:00:01 host prog[pid]: msg``, the same with a
leading year, ISO 8601 (syslog-ng and rsyslog), ``2015-04-16 21:51:02,805``
(proftpd), xferlog, snort and suricata dates, the Apache error-log date, the
macOS ASL bracket format and squid's epoch. Anything else is a message without
header (``program_name`` empty), which decoders then match by prematch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MACOS_ULS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d{4} ")


@dataclass(frozen=True, slots=True)
class PreDecoded:
    """The header fields and the message the decoders and rules see."""

    full_log: str
    log: str
    timestamp: str = ""
    hostname: str = ""
    program_name: str = ""


def _valid(c: str) -> bool:
    return c.isalnum() or c in "-_./()@"


def _at(s: str, i: int) -> str:
    return s[i] if i < len(s) else "\0"


def _syslog_date_len(p: str) -> int:
    n = len(p) + 1
    if (
        n > 17
        and _at(p, 3) == " "
        and _at(p, 6) == " "
        and _at(p, 9) == ":"
        and _at(p, 12) == ":"
        and _at(p, 15) == " "
    ):
        return 16
    if (
        n > 24
        and _at(p, 4) == "-"
        and _at(p, 7) == "-"
        and _at(p, 10) == " "
        and _at(p, 13) == ":"
        and _at(p, 16) == ":"
        and _at(p, 19) == ","
    ):
        return 23
    if (
        n > 33
        and _at(p, 4) == "-"
        and _at(p, 7) == "-"
        and _at(p, 10) == "T"
        and _at(p, 13) == ":"
        and _at(p, 16) == ":"
    ):
        if _at(p, 22) == ":" and _at(p, 25) == " ":
            return 26
        if _at(p, 19) == "." and _at(p, 29) == ":":
            return 33
        if _at(p, 19) == ".":
            return 32
    if _MACOS_ULS.match(p):
        return 32
    if (
        n > 21
        and p[:1].isdigit()
        and _at(p, 4) == " "
        and _at(p, 8) == " "
        and _at(p, 11) == " "
        and _at(p, 14) == ":"
        and _at(p, 17) == ":"
        and _at(p, 20) == " "
    ):
        return 21
    return 0


def _program(rest: str) -> tuple[str, str] | None:
    """``(program_name, message)`` from ``prog: msg`` or ``prog[pid]: msg``."""
    i = 0
    while i < len(rest) and _valid(rest[i]):
        i += 1
    name = rest[:i]
    if _at(rest, i) == ":":
        j = i + 1
        if _at(rest, j) == " ":
            j += 1
        return name, rest[j:]
    if _at(rest, i) == "[" and _at(rest, i + 1).isdigit():
        j = i + 2
        while _at(rest, j).isdigit():
            j += 1
        if _at(rest, j) == "]" and _at(rest, j + 1) == ":":
            j += 2
            if _at(rest, j) == " ":
                j += 1
            return name, rest[j:]
        if _at(rest, j) == "]" and _at(rest, j + 1) == " ":
            return name, rest[j + 2 :]
    return None


def _strip_solaris_id(msg: str) -> str:
    if msg.startswith("[ID "):
        end = msg.find("]", 4)
        if end >= 0:
            return msg[end + 2 :]
    return msg


def predecode(line: str) -> PreDecoded:
    """Split ``line`` the way Wazuh's pre-decoder does."""
    p = line
    skip = _syslog_date_len(p)
    if skip:
        timestamp = p[: skip - 1]
        rest = p[skip:]
        if rest.startswith(" "):
            rest = rest[1:]
        i = 0
        while i < len(rest) and _valid(rest[i]):
            i += 1
        if _at(rest, i) == ":" and _at(rest, i + 1) == " ":
            return PreDecoded(line, rest[i + 2 :], timestamp, "", rest[:i])
        if _at(rest, i) != " ":
            return PreDecoded(line, rest, timestamp)
        hostname = rest[:i]
        after = rest[i + 1 :]
        prog = _program(after)
        if prog is None:
            return PreDecoded(line, after, timestamp, hostname)
        return PreDecoded(line, _strip_solaris_id(prog[1]), timestamp, hostname, prog[0])
    n = len(p) + 1
    if (
        n > 28
        and _at(p, 3) == " "
        and _at(p, 7) == " "
        and _at(p, 10) == " "
        and _at(p, 13) == ":"
        and _at(p, 16) == ":"
        and _at(p, 19) == " "
        and _at(p, 24) == " "
        and _at(p, 26) == " "
    ):
        return PreDecoded(line, p[25:], p[:24])
    if (
        n > 24
        and _at(p, 2) == "/"
        and _at(p, 5) == "-"
        and _at(p, 8) == ":"
        and _at(p, 11) == ":"
        and _at(p, 14) == "."
        and _at(p, 21) == " "
    ):
        return PreDecoded(line, p[23:], p[:21])
    if (
        n > 26
        and _at(p, 2) == "/"
        and _at(p, 5) == "/"
        and _at(p, 10) == "-"
        and _at(p, 13) == ":"
        and _at(p, 16) == ":"
        and _at(p, 19) == "."
        and _at(p, 26) == " "
    ):
        return PreDecoded(line, p[28:], p[:26])
    if (
        n > 27
        and p[0] == "["
        and _at(p, 4) == " "
        and _at(p, 8) == " "
        and _at(p, 11) == " "
        and _at(p, 14) == ":"
        and _at(p, 17) == ":"
        and _at(p, 20) == " "
        and _at(p, 25) == "]"
    ):
        return PreDecoded(line, p[27:], p[1:25])
    if (
        n > 26
        and p.startswith("[T")
        and _at(p, 5) == " "
        and _at(p, 10) == "."
        and _at(p, 13) == "."
        and _at(p, 16) == " "
        and _at(p, 19) == ":"
    ):
        return _asl(line)
    if (
        n > 32
        and p[0] == "1"
        and p[1:4].isdigit()
        and _at(p, 10) == "."
        and _at(p, 13).isdigit()
        and _at(p, 14) == " "
        and (_at(p, 21) == " " or _at(p, 22) == " ")
    ):
        return PreDecoded(line, p[14:].lstrip(" "), p[:14])
    return PreDecoded(line, line)


def _asl(line: str) -> PreDecoded:
    log = line[25:]
    program = hostname = ""
    message = log
    done_message = False
    pos = log.find("[")
    while pos >= 0:
        pos += 1
        if log.startswith("Sender ", pos) and not program:
            end = log.find("]", pos)
            if end < 0:
                break
            program = log[pos + 7 : end]
            pos = end
        elif log.startswith("Message ", pos) and not done_message:
            done_message = True
            end = log.find("]", pos)
            if end < 0:
                message = log[pos + 8 :]
                break
            message = log[pos + 8 : end]
            pos = end
        elif log.startswith("Host ", pos):
            end = log.find("]", pos)
            hostname = log[pos + 5 : end] if end >= 0 else ""
            break
        pos = log.find("[", pos)
    return PreDecoded(line, message, line[6:24], hostname, program)
