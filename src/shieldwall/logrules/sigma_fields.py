"""Turn a log line into the fields Sigma's Linux and web taxonomy names.

- auditd records (``type=SYSCALL msg=audit(...): key=value ...``): every
  ``key=value`` pair (quotes removed), ``type``; for ``EXECVE`` records the
  arguments ``a0..aN`` joined as ``CommandLine``; ``exe`` also as ``Image``.
- web access logs (common/combined format): ``c-ip``, ``cs-method``,
  ``cs-uri-stem``, ``cs-uri-query`` (path and query), ``c-uri``,
  ``sc-status``, ``cs-referer``, ``cs-user-agent``.
- syslog lines: ``hostname``, ``program_name`` (Sigma ``service`` logsources
  are matched against it) and the message for keyword detections.
"""

from __future__ import annotations

import re

from shieldwall.logrules.wazuh.predecode import predecode

_KV = re.compile(r'([A-Za-z0-9_.-]+)=("[^"]*"|\'[^\']*\'|\S+)')
_ACCESS = re.compile(
    r"^(?:\S+ )?(?P<ip>[0-9A-Fa-f:.]+) \S+ (?P<user>\S+) \[[^\]]+\] "
    r'"(?P<method>[A-Z]+) (?P<uri>\S+)(?: (?P<proto>[^"]*))?" '
    r'(?P<status>\d{3}) (?P<size>\S+)(?: "(?P<ref>[^"]*)" "(?P<ua>[^"]*)")?'
)
MAX_FIELDS = 256


def line_fields(line: str) -> tuple[dict[str, str], str]:
    """``(fields, message)`` for one raw line."""
    pre = predecode(line)
    message = pre.log
    fields: dict[str, str] = {}
    if pre.hostname:
        fields["hostname"] = pre.hostname
    if pre.program_name:
        fields["program_name"] = pre.program_name
    audit = message.find("type=")
    if audit >= 0 and "msg=audit(" in message:
        for kv in _KV.finditer(message[audit:]):
            if len(fields) >= MAX_FIELDS:
                break
            value = kv.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            fields.setdefault(kv.group(1), value)
        if fields.get("type") == "EXECVE":
            args = []
            i = 0
            while f"a{i}" in fields and i < 128:
                args.append(fields[f"a{i}"])
                i += 1
            fields["CommandLine"] = " ".join(args)
        if "exe" in fields:
            fields["Image"] = fields["exe"]
        return fields, message
    access = _ACCESS.match(message)
    if access is not None:
        m = access
        uri = m.group("uri")
        stem, _, query = uri.partition("?")
        fields.update(
            {
                "c-ip": m.group("ip"),
                "cs-method": m.group("method"),
                "c-uri": uri,
                "cs-uri": uri,
                "cs-uri-stem": stem,
                "cs-uri-query": uri,
                "sc-status": m.group("status"),
            }
        )
        if query:
            fields["c-uri-query"] = query
        if m.group("ref") is not None:
            fields["cs-referer"] = m.group("ref")
        if m.group("ua") is not None:
            fields["cs-user-agent"] = m.group("ua")
            fields["c-useragent"] = m.group("ua")
    return fields, message
