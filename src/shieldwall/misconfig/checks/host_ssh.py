"""Host checks of the OpenSSH server configuration (``host-sshd``): CIS Debian/Ubuntu section 5.2."""

from __future__ import annotations

from collections.abc import Iterator

from shieldwall.misconfig.check import Check, Hit, Resource, check
from shieldwall.misconfig.checks._host import CIS_DEBIAN, CIS_UBUNTU, NIST_53, PCI, as_int, first_word, host_config
from shieldwall.misconfig.checks._host import setting_hit as hit
from shieldwall.misconfig.inputs.host import HOST_SSHD
from shieldwall.model import Severity

_MAN = "https://man.openbsd.org/sshd_config"

_WEAK_CIPHERS = ("3des-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc", "arcfour", "arcfour128", "arcfour256",
                 "blowfish-cbc", "cast128-cbc", "rijndael-cbc@lysator.liu.se")  # fmt: skip
_WEAK_MACS = ("hmac-md5", "hmac-md5-96", "hmac-ripemd160", "hmac-sha1", "hmac-sha1-96", "umac-64@openssh.com",
              "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com", "hmac-ripemd160-etm@openssh.com",
              "hmac-sha1-etm@openssh.com", "hmac-sha1-96-etm@openssh.com", "umac-64-etm@openssh.com")  # fmt: skip
_WEAK_KEX = ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1")


def _yes(value: str | None) -> bool:
    return first_word(value) == "yes"


@check(
    "SW-HOST-SSH-001",
    "SSH permits root login with a password",
    Severity.HIGH,
    HOST_SSHD,
    description="PermitRootLogin yes lets anyone who guesses or steals root's password log in as root over the "
    "network.",
    remediation="Set 'PermitRootLogin no' and log in as a named user who escalates with sudo.",
    controls=(f"{CIS_DEBIAN}:5.2.7", f"{CIS_UBUNTU}:5.2.7", f"{PCI}:8.2.2", f"{NIST_53}:AC-6"),
    references=(_MAN + "#PermitRootLogin",),
)
def _root_login(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("permitrootlogin")
    if setting is not None and _yes(setting.value):
        yield hit(setting, "PermitRootLogin yes", key="permitrootlogin")


@check(
    "SW-HOST-SSH-002",
    "SSH root login is not disabled",
    Severity.LOW,
    HOST_SSHD,
    description="With PermitRootLogin prohibit-password (the default) root can still log in with a key; CIS asks "
    "for 'no' so every login is attributable to a person.",
    remediation="Set 'PermitRootLogin no'.",
    controls=(f"{CIS_DEBIAN}:5.2.7", f"{CIS_UBUNTU}:5.2.7", f"{NIST_53}:AC-6"),
    references=(_MAN + "#PermitRootLogin",),
)
def _root_login_key(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("permitrootlogin")
    value = first_word(setting.value if setting else None)
    if value in ("", "prohibit-password", "without-password", "forced-commands-only"):
        yield hit(setting, f"PermitRootLogin {value or 'not set (prohibit-password)'}", key="permitrootlogin")


@check(
    "SW-HOST-SSH-003",
    "SSH allows password authentication",
    Severity.MEDIUM,
    HOST_SSHD,
    description="Password logins (the default) can be brute-forced and phished; keys or certificates cannot.",
    remediation="Set 'PasswordAuthentication no' (and 'KbdInteractiveAuthentication no') once keys are deployed.",
    controls=(f"{NIST_53}:IA-2", f"{PCI}:8.3.1"),
    references=(_MAN + "#PasswordAuthentication",),
)
def _password_auth(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("passwordauthentication")
    if setting is None or _yes(setting.value):
        yield hit(setting, f"PasswordAuthentication {setting.value if setting else 'not set (yes)'}", key="password")


@check(
    "SW-HOST-SSH-004",
    "SSH permits empty passwords",
    Severity.HIGH,
    HOST_SSHD,
    description="PermitEmptyPasswords yes lets accounts without a password log in over the network.",
    remediation="Set 'PermitEmptyPasswords no'.",
    controls=(f"{CIS_DEBIAN}:5.2.9", f"{CIS_UBUNTU}:5.2.9", f"{PCI}:8.3.1", f"{NIST_53}:IA-5"),
    references=(_MAN + "#PermitEmptyPasswords",),
)
def _empty_passwords(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("permitemptypasswords")
    if setting is not None and _yes(setting.value):
        yield hit(setting, "PermitEmptyPasswords yes", key="empty")


@check(
    "SW-HOST-SSH-005",
    "SSH protocol version 1 is enabled",
    Severity.HIGH,
    HOST_SSHD,
    description="SSH protocol 1 is cryptographically broken (session hijacking, weak integrity checks).",
    remediation="Remove 'Protocol 1' (or set 'Protocol 2'); current OpenSSH speaks only version 2.",
    controls=(f"{NIST_53}:SC-8", f"{PCI}:4.2.1"),
    references=(_MAN,),
)
def _protocol(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("protocol")
    if setting is not None and "1" in setting.value.replace(" ", "").split(","):
        yield hit(setting, f"Protocol {setting.value}", key="protocol")


@check(
    "SW-HOST-SSH-006",
    "SSH X11 forwarding is enabled",
    Severity.LOW,
    HOST_SSHD,
    description="X11 forwarding lets a compromised server reach the client's X display (keystrokes, screens).",
    remediation="Set 'X11Forwarding no'.",
    controls=(f"{CIS_DEBIAN}:5.2.12", f"{CIS_UBUNTU}:5.2.12", f"{NIST_53}:CM-7"),
    references=(_MAN + "#X11Forwarding",),
)
def _x11(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("x11forwarding")
    if setting is not None and _yes(setting.value):
        yield hit(setting, "X11Forwarding yes", key="x11")


@check(
    "SW-HOST-SSH-007",
    "SSH MaxAuthTries is above 4",
    Severity.LOW,
    HOST_SSHD,
    description="Many authentication attempts per connection (6 by default) make brute-forcing cheaper.",
    remediation="Set 'MaxAuthTries 4' or less.",
    controls=(f"{CIS_DEBIAN}:5.2.18", f"{CIS_UBUNTU}:5.2.18", f"{NIST_53}:AC-7"),
    references=(_MAN + "#MaxAuthTries",),
)
def _max_auth_tries(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("maxauthtries")
    number = as_int(setting.value) if setting else 6
    if number is not None and number > 4:
        yield hit(setting, f"MaxAuthTries {number if setting else 'not set (6)'}", key="maxauthtries")


def _weak(value: str | None, weak: tuple[str, ...]) -> list[str]:
    if not value:
        return []
    items = [v.strip().lower() for v in value.replace(" ", ",").split(",") if v.strip()]
    if items and items[0][0] in "+-^":  # "+cbc" appends to the defaults, "-x" removes, "^x" prepends
        items = [i.lstrip("+^") for i in items if not i.startswith("-")]
    return [i for i in items if i in weak or (i.endswith("-cbc") and weak is _WEAK_CIPHERS)]


@check(
    "SW-HOST-SSH-008",
    "SSH allows weak ciphers",
    Severity.MEDIUM,
    HOST_SSHD,
    description="CBC-mode, RC4 (arcfour), 3DES, Blowfish and CAST ciphers have practical attacks.",
    remediation="List only chacha20-poly1305@openssh.com, aes*-gcm@openssh.com and aes*-ctr in 'Ciphers'.",
    controls=(f"{CIS_DEBIAN}:5.2.13", f"{CIS_UBUNTU}:5.2.13", f"{PCI}:4.2.1", f"{NIST_53}:SC-13"),
    references=(_MAN + "#Ciphers",),
)
def _ciphers(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("ciphers")
    weak = _weak(setting.value if setting else None, _WEAK_CIPHERS)
    if weak:
        yield hit(setting, f"weak ciphers: {', '.join(weak)}", key="ciphers", found=", ".join(weak))


@check(
    "SW-HOST-SSH-009",
    "SSH allows weak MAC algorithms",
    Severity.MEDIUM,
    HOST_SSHD,
    description="MD5, RIPEMD-160, SHA-1 and 64-bit UMAC message authentication codes are weak.",
    remediation="List only hmac-sha2-512-etm@openssh.com, hmac-sha2-256-etm@openssh.com (and umac-128-etm) in 'MACs'.",
    controls=(f"{CIS_DEBIAN}:5.2.14", f"{CIS_UBUNTU}:5.2.14", f"{PCI}:4.2.1", f"{NIST_53}:SC-13"),
    references=(_MAN + "#MACs",),
)
def _macs(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("macs")
    weak = _weak(setting.value if setting else None, _WEAK_MACS)
    if weak:
        yield hit(setting, f"weak MACs: {', '.join(weak)}", key="macs", found=", ".join(weak))


@check(
    "SW-HOST-SSH-010",
    "SSH allows weak key exchange algorithms",
    Severity.MEDIUM,
    HOST_SSHD,
    description="SHA-1 based Diffie-Hellman key exchanges (group1, group14-sha1, group-exchange-sha1) are weak.",
    remediation="List curve25519-sha256, ecdh-sha2-nistp*, diffie-hellman-group16/18-sha512 in 'KexAlgorithms'.",
    controls=(f"{CIS_DEBIAN}:5.2.15", f"{CIS_UBUNTU}:5.2.15", f"{NIST_53}:SC-13"),
    references=(_MAN + "#KexAlgorithms",),
)
def _kex(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("kexalgorithms")
    weak = _weak(setting.value if setting else None, _WEAK_KEX)
    if weak:
        yield hit(setting, f"weak key exchange: {', '.join(weak)}", key="kex", found=", ".join(weak))


@check(
    "SW-HOST-SSH-011",
    "SSH allows host-based or rhosts authentication",
    Severity.MEDIUM,
    HOST_SSHD,
    description="Host-based authentication and .rhosts files trust other machines instead of the user.",
    remediation="Set 'HostbasedAuthentication no' and 'IgnoreRhosts yes'.",
    controls=(f"{CIS_DEBIAN}:5.2.8", f"{CIS_DEBIAN}:5.2.10", f"{CIS_UBUNTU}:5.2.8", f"{NIST_53}:IA-2"),
    references=(_MAN + "#HostbasedAuthentication",),
)
def _hostbased(resource: Resource) -> Iterator[Hit]:
    config = host_config(resource)
    hostbased = config.get("hostbasedauthentication")
    if hostbased is not None and _yes(hostbased.value):
        yield hit(hostbased, "HostbasedAuthentication yes", key="hostbased")
    rhosts = config.get("ignorerhosts")
    if rhosts is not None and first_word(rhosts.value) == "no":
        yield hit(rhosts, "IgnoreRhosts no", key="rhosts")


@check(
    "SW-HOST-SSH-012",
    "SSH lets users set environment options",
    Severity.MEDIUM,
    HOST_SSHD,
    description="PermitUserEnvironment lets users pass variables such as LD_PRELOAD to sshd-started processes, "
    "bypassing forced commands and restrictions.",
    remediation="Set 'PermitUserEnvironment no'.",
    controls=(f"{CIS_DEBIAN}:5.2.11", f"{CIS_UBUNTU}:5.2.11", f"{NIST_53}:CM-6"),
    references=(_MAN + "#PermitUserEnvironment",),
)
def _user_environment(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("permituserenvironment")
    if setting is not None and first_word(setting.value) not in ("no", ""):
        yield hit(setting, f"PermitUserEnvironment {setting.value}", key="userenv")


@check(
    "SW-HOST-SSH-013",
    "SSH login grace time is long",
    Severity.LOW,
    HOST_SSHD,
    description="A LoginGraceTime above one minute (or 0, unlimited) lets unauthenticated connections hold "
    "resources, easing denial of service.",
    remediation="Set 'LoginGraceTime 60' or less.",
    controls=(f"{CIS_DEBIAN}:5.2.21", f"{CIS_UBUNTU}:5.2.21", f"{NIST_53}:AC-12"),
    references=(_MAN + "#LoginGraceTime",),
)
def _grace_time(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("logingracetime")
    if setting is None:
        return
    seconds = _seconds(setting.value)
    if seconds is not None and (seconds == 0 or seconds > 60):
        yield hit(setting, f"LoginGraceTime {setting.value}", key="grace")


def _seconds(value: str) -> int | None:
    """sshd time format: ``120``, ``2m``, ``1h30m``."""
    total, number = 0, ""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    for char in value.strip().lower():
        if char.isdigit():
            number += char
        elif char in units and number:
            total += int(number) * units[char]
            number = ""
        else:
            return None
    return total + (int(number) if number else 0)


@check(
    "SW-HOST-SSH-014",
    "SSH log level is too low",
    Severity.LOW,
    HOST_SSHD,
    description="LogLevel QUIET, FATAL or ERROR drops login records needed to investigate an intrusion.",
    remediation="Set 'LogLevel VERBOSE' (or INFO).",
    controls=(f"{CIS_DEBIAN}:5.2.5", f"{CIS_UBUNTU}:5.2.5", f"{PCI}:10.2.1", f"{NIST_53}:AU-2"),
    references=(_MAN + "#LogLevel",),
)
def _log_level(resource: Resource) -> Iterator[Hit]:
    setting = host_config(resource).get("loglevel")
    if setting is not None and first_word(setting.value) in ("quiet", "fatal", "error"):
        yield hit(setting, f"LogLevel {setting.value}", key="loglevel")


CHECKS: tuple[Check, ...] = (
    _root_login,
    _root_login_key,
    _password_auth,
    _empty_passwords,
    _protocol,
    _x11,
    _max_auth_tries,
    _ciphers,
    _macs,
    _kex,
    _hostbased,
    _user_environment,
    _grace_time,
    _log_level,
)
