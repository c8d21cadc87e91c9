"""Host checks of kernel parameters (``host-sysctl``, CIS Debian/Ubuntu 1.5 and 3.3) and of
``/etc/login.defs`` (``host-login-defs``, CIS 5.5).

A sysctl check names the keys it reads, the values that pass, and the kernel
default. When a key is not configured anywhere the kernel default applies: the
check flags it only if that default fails (``accept_redirects`` defaults to 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shieldwall.misconfig.check import Check, Hit, Resource, check
from shieldwall.misconfig.checks._host import CIS_DEBIAN, CIS_UBUNTU, NIST_53, PCI, as_int, first_word, host_config
from shieldwall.misconfig.checks._host import setting_hit as hit
from shieldwall.misconfig.inputs.host import HOST_LOGIN_DEFS, HOST_SYSCTL
from shieldwall.model import Severity

_KERNEL_DOCS = "https://docs.kernel.org/networking/ip-sysctl.html"


@dataclass(frozen=True, slots=True)
class _Rule:
    keys: tuple[str, ...]
    good: frozenset[str]
    default: str | None  # kernel default when unset; None = do not judge an unset key


def _sysctl_check(
    id: str,
    title: str,
    severity: Severity,
    rule: _Rule,
    *,
    description: str,
    remediation: str,
    controls: tuple[str, ...],
    references: tuple[str, ...] = (_KERNEL_DOCS,),
) -> Check:
    @check(id, title, severity, HOST_SYSCTL, description=description, remediation=remediation, controls=controls,
           references=references)  # fmt: skip
    def evaluate(resource: Resource) -> Iterator[Hit]:
        config = host_config(resource)
        for key in rule.keys:
            setting = config.get(key)
            value = setting.value.strip() if setting is not None else rule.default
            if value is None or value in rule.good:
                continue
            shown = f"{key} = {value}" if setting is not None else f"{key} is not set (kernel default {value})"
            yield hit(setting, shown, key=key, found=f"{key}={value}")

    return evaluate


def _ipv4_ipv6(name: str) -> tuple[str, ...]:
    return (f"net.ipv4.conf.all.{name}", f"net.ipv4.conf.default.{name}", f"net.ipv6.conf.all.{name}",
            f"net.ipv6.conf.default.{name}")  # fmt: skip


_ZERO = frozenset({"0"})
_ONE = frozenset({"1"})

_ip_forward = _sysctl_check(
    "SW-HOST-SYSCTL-001",
    "IP forwarding is enabled",
    Severity.MEDIUM,
    _Rule(("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"), _ZERO, None),
    description="A host that forwards packets acts as a router between its networks. Container hosts need it "
    "(Docker and Kubernetes turn it on at run time); set it in sysctl files only on routers.",
    remediation="Set net.ipv4.ip_forward = 0 and net.ipv6.conf.all.forwarding = 0 unless the host routes.",
    controls=(f"{CIS_DEBIAN}:3.2.2", f"{CIS_UBUNTU}:3.2.2", f"{NIST_53}:SC-7"),
)
_accept_redirects = _sysctl_check(
    "SW-HOST-SYSCTL-002",
    "ICMP redirects are accepted",
    Severity.MEDIUM,
    _Rule(_ipv4_ipv6("accept_redirects"), _ZERO, "1"),
    description="Accepting ICMP redirects lets anyone on the local network change the host's routes "
    "(man-in-the-middle).",
    remediation="Set net.ipv4.conf.{all,default}.accept_redirects = 0 and the net.ipv6 equivalents.",
    controls=(f"{CIS_DEBIAN}:3.3.2", f"{CIS_UBUNTU}:3.3.2", f"{NIST_53}:SC-7"),
)
_secure_redirects = _sysctl_check(
    "SW-HOST-SYSCTL-003",
    "Secure ICMP redirects are accepted",
    Severity.LOW,
    _Rule(("net.ipv4.conf.all.secure_redirects", "net.ipv4.conf.default.secure_redirects"), _ZERO, "1"),
    description="Redirects from listed gateways are still redirects: a compromised gateway can reroute traffic.",
    remediation="Set net.ipv4.conf.{all,default}.secure_redirects = 0.",
    controls=(f"{CIS_DEBIAN}:3.3.3", f"{CIS_UBUNTU}:3.3.3", f"{NIST_53}:SC-7"),
)
_send_redirects = _sysctl_check(
    "SW-HOST-SYSCTL-004",
    "ICMP redirects are sent",
    Severity.MEDIUM,
    _Rule(("net.ipv4.conf.all.send_redirects", "net.ipv4.conf.default.send_redirects"), _ZERO, "1"),
    description="Only routers need to send redirects; a compromised host can use them to reroute its neighbours.",
    remediation="Set net.ipv4.conf.{all,default}.send_redirects = 0.",
    controls=(f"{CIS_DEBIAN}:3.2.1", f"{CIS_UBUNTU}:3.2.1", f"{NIST_53}:SC-7"),
)
_source_route = _sysctl_check(
    "SW-HOST-SYSCTL-005",
    "Source-routed packets are accepted",
    Severity.MEDIUM,
    _Rule(_ipv4_ipv6("accept_source_route"), _ZERO, None),
    description="Source routing lets a sender choose the path of its packets, bypassing network controls.",
    remediation="Set net.ipv4.conf.{all,default}.accept_source_route = 0 and the net.ipv6 equivalents.",
    controls=(f"{CIS_DEBIAN}:3.3.1", f"{CIS_UBUNTU}:3.3.1", f"{NIST_53}:SC-7"),
)
_rp_filter = _sysctl_check(
    "SW-HOST-SYSCTL-006",
    "Reverse path filtering is disabled",
    Severity.MEDIUM,
    _Rule(("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter"), frozenset({"1", "2"}), "0"),
    description="Without reverse path filtering the host accepts packets with spoofed source addresses.",
    remediation="Set net.ipv4.conf.{all,default}.rp_filter = 1 (strict; 2 = loose for asymmetric routing).",
    controls=(f"{CIS_DEBIAN}:3.3.7", f"{CIS_UBUNTU}:3.3.7", f"{NIST_53}:SC-7"),
)
_syncookies = _sysctl_check(
    "SW-HOST-SYSCTL-007",
    "TCP SYN cookies are disabled",
    Severity.MEDIUM,
    _Rule(("net.ipv4.tcp_syncookies",), _ONE, None),
    description="Without SYN cookies a SYN flood fills the connection backlog and denies service.",
    remediation="Set net.ipv4.tcp_syncookies = 1.",
    controls=(f"{CIS_DEBIAN}:3.3.8", f"{CIS_UBUNTU}:3.3.8", f"{NIST_53}:SC-5"),
)
_broadcast = _sysctl_check(
    "SW-HOST-SYSCTL-008",
    "Broadcast ICMP echo requests are answered",
    Severity.LOW,
    _Rule(("net.ipv4.icmp_echo_ignore_broadcasts",), _ONE, None),
    description="Answering broadcast pings makes the host an amplifier in Smurf attacks.",
    remediation="Set net.ipv4.icmp_echo_ignore_broadcasts = 1.",
    controls=(f"{CIS_DEBIAN}:3.3.5", f"{CIS_UBUNTU}:3.3.5", f"{NIST_53}:SC-5"),
)
_martians = _sysctl_check(
    "SW-HOST-SYSCTL-009",
    "Martian packets are not logged",
    Severity.LOW,
    _Rule(("net.ipv4.conf.all.log_martians", "net.ipv4.conf.default.log_martians"), _ONE, "0"),
    description="Logging packets with impossible source addresses reveals spoofing attempts.",
    remediation="Set net.ipv4.conf.{all,default}.log_martians = 1.",
    controls=(f"{CIS_DEBIAN}:3.3.4", f"{CIS_UBUNTU}:3.3.4", f"{NIST_53}:AU-2"),
)
_aslr = _sysctl_check(
    "SW-HOST-SYSCTL-010",
    "Address space layout randomisation is weakened",
    Severity.HIGH,
    _Rule(("kernel.randomize_va_space",), frozenset({"2"}), None),
    description="kernel.randomize_va_space below 2 makes memory corruption exploits far easier.",
    remediation="Set kernel.randomize_va_space = 2.",
    controls=(f"{CIS_DEBIAN}:1.5.1", f"{CIS_UBUNTU}:1.5.3", f"{NIST_53}:SI-16"),
    references=("https://docs.kernel.org/admin-guide/sysctl/kernel.html#randomize-va-space",),
)
_dmesg = _sysctl_check(
    "SW-HOST-SYSCTL-011",
    "Kernel log is readable by unprivileged users",
    Severity.LOW,
    _Rule(("kernel.dmesg_restrict",), _ONE, "0"),
    description="The kernel log leaks kernel addresses and hardware details useful to exploit the kernel.",
    remediation="Set kernel.dmesg_restrict = 1.",
    controls=(f"{NIST_53}:SI-11",),
    references=("https://docs.kernel.org/admin-guide/sysctl/kernel.html#dmesg-restrict",),
)
_suid_dumpable = _sysctl_check(
    "SW-HOST-SYSCTL-012",
    "Setuid programs may dump core",
    Severity.MEDIUM,
    _Rule(("fs.suid_dumpable",), _ZERO, None),
    description="Core dumps of setuid programs can expose password hashes and keys held in memory.",
    remediation="Set fs.suid_dumpable = 0 (and '* hard core 0' in limits.conf).",
    controls=(f"{CIS_DEBIAN}:1.5.2", f"{CIS_UBUNTU}:1.5.4", f"{NIST_53}:SC-4"),
    references=("https://docs.kernel.org/admin-guide/sysctl/fs.html#suid-dumpable",),
)
_kptr = _sysctl_check(
    "SW-HOST-SYSCTL-013",
    "Kernel pointers are exposed",
    Severity.LOW,
    _Rule(("kernel.kptr_restrict",), frozenset({"1", "2"}), None),
    description="kernel.kptr_restrict = 0 prints kernel addresses in /proc, defeating KASLR.",
    remediation="Set kernel.kptr_restrict = 1 (or 2).",
    controls=(f"{NIST_53}:SI-16",),
    references=("https://docs.kernel.org/admin-guide/sysctl/kernel.html#kptr-restrict",),
)
_ptrace = _sysctl_check(
    "SW-HOST-SYSCTL-014",
    "Any process may ptrace another of the same user",
    Severity.LOW,
    _Rule(("kernel.yama.ptrace_scope",), frozenset({"1", "2", "3"}), None),
    description="With ptrace_scope 0 a compromised process can read the memory of every process of its user "
    "(ssh-agent, browsers).",
    remediation="Set kernel.yama.ptrace_scope = 1 (or higher).",
    controls=(f"{CIS_DEBIAN}:1.5.3", f"{NIST_53}:SC-4"),
    references=("https://docs.kernel.org/admin-guide/LSM/Yama.html",),
)
_protected_links = _sysctl_check(
    "SW-HOST-SYSCTL-015",
    "Hard and symbolic link protections are disabled",
    Severity.MEDIUM,
    _Rule(("fs.protected_hardlinks", "fs.protected_symlinks"), _ONE, None),
    description="Without link protections, links in world-writable directories enable time-of-check attacks "
    "on privileged programs.",
    remediation="Set fs.protected_hardlinks = 1 and fs.protected_symlinks = 1.",
    controls=(f"{NIST_53}:AC-6",),
    references=("https://docs.kernel.org/admin-guide/sysctl/fs.html#protected-hardlinks",),
)
_accept_ra = _sysctl_check(
    "SW-HOST-SYSCTL-016",
    "IPv6 router advertisements are accepted",
    Severity.LOW,
    _Rule(("net.ipv6.conf.all.accept_ra", "net.ipv6.conf.default.accept_ra"), _ZERO, None),
    description="A host that accepts router advertisements can be given a rogue default route.",
    remediation="Set net.ipv6.conf.{all,default}.accept_ra = 0 on hosts with static IPv6 configuration.",
    controls=(f"{CIS_DEBIAN}:3.3.9", f"{CIS_UBUNTU}:3.3.9", f"{NIST_53}:SC-7"),
)


# --------------------------------------------------------------------------- login.defs

_SHADOW = "https://man7.org/linux/man-pages/man5/login.defs.5.html"


def _login_check(
    id: str,
    title: str,
    key: str,
    bad: Callable[[str | None], bool],
    *,
    severity: Severity = Severity.LOW,
    description: str,
    remediation: str,
    controls: tuple[str, ...],
) -> Check:
    @check(id, title, severity, HOST_LOGIN_DEFS, description=description, remediation=remediation,
           controls=controls, references=(_SHADOW,))  # fmt: skip
    def evaluate(resource: Resource) -> Iterator[Hit]:
        setting = host_config(resource).get(key)
        value = setting.value if setting is not None else None
        if bad(value):
            yield hit(setting, f"{key} {value}" if setting is not None else f"{key} is not set", key=key)

    return evaluate


def _over(limit: int, unset_bad: bool) -> Callable[[str | None], bool]:
    def test(value: str | None) -> bool:
        number = as_int(value)
        return unset_bad if value is None else number is not None and (number > limit or number < 0)

    return test


def _under(limit: int, unset_bad: bool) -> Callable[[str | None], bool]:
    def test(value: str | None) -> bool:
        number = as_int(value)
        return unset_bad if value is None else number is not None and number < limit

    return test


def _umask_loose(value: str | None) -> bool:
    if value is None:
        return True
    try:
        mask = int(value.strip(), 8)
    except ValueError:
        return False
    return (mask & 0o027) != 0o027


def _weak_hash(value: str | None) -> bool:
    return value is not None and first_word(value) in ("des", "md5", "none", "bigcrypt")


_pass_max = _login_check(
    "SW-HOST-LOGIN-001",
    "Passwords do not expire within a year",
    "PASS_MAX_DAYS",
    _over(365, True),
    description="PASS_MAX_DAYS above 365 (Debian ships 99999) lets a leaked password work indefinitely.",
    remediation="Set PASS_MAX_DAYS 365 or less (and chage existing users).",
    controls=(f"{CIS_DEBIAN}:5.5.1.2", f"{CIS_UBUNTU}:5.5.1.2", f"{NIST_53}:IA-5"),
)
_pass_min = _login_check(
    "SW-HOST-LOGIN-002",
    "Passwords can be changed again immediately",
    "PASS_MIN_DAYS",
    _under(1, True),
    description="PASS_MIN_DAYS 0 lets users cycle through passwords to reuse an old one.",
    remediation="Set PASS_MIN_DAYS 1 or more.",
    controls=(f"{CIS_DEBIAN}:5.5.1.1", f"{CIS_UBUNTU}:5.5.1.1", f"{NIST_53}:IA-5"),
)
_pass_warn = _login_check(
    "SW-HOST-LOGIN-003",
    "Password expiry warning is shorter than 7 days",
    "PASS_WARN_AGE",
    _under(7, False),
    description="Users warned late about expiry choose weak replacement passwords in a hurry.",
    remediation="Set PASS_WARN_AGE 7 or more.",
    controls=(f"{CIS_DEBIAN}:5.5.1.3", f"{CIS_UBUNTU}:5.5.1.3", f"{NIST_53}:IA-5"),
)
_umask = _login_check(
    "SW-HOST-LOGIN-004",
    "Default umask is more permissive than 027",
    "UMASK",
    _umask_loose,
    description="A umask of 022 (the usual default) makes every new file readable by all users.",
    remediation="Set UMASK 027 (or 077).",
    controls=(f"{CIS_DEBIAN}:5.5.4", f"{CIS_UBUNTU}:5.5.4", f"{NIST_53}:AC-3"),
)
_hash = _login_check(
    "SW-HOST-LOGIN-005",
    "Passwords are hashed with a weak algorithm",
    "ENCRYPT_METHOD",
    _weak_hash,
    severity=Severity.HIGH,
    description="DES and MD5 password hashes are cracked quickly once /etc/shadow leaks.",
    remediation="Set ENCRYPT_METHOD YESCRYPT (or SHA512) and make users change their passwords.",
    controls=(f"{CIS_DEBIAN}:5.4.4", f"{CIS_UBUNTU}:5.4.4", f"{PCI}:8.3.2", f"{NIST_53}:IA-5"),
)


CHECKS: tuple[Check, ...] = (
    _ip_forward,
    _accept_redirects,
    _secure_redirects,
    _send_redirects,
    _source_route,
    _rp_filter,
    _syncookies,
    _broadcast,
    _martians,
    _aslr,
    _dmesg,
    _suid_dumpable,
    _kptr,
    _ptrace,
    _protected_links,
    _accept_ra,
    _pass_max,
    _pass_min,
    _pass_warn,
    _umask,
    _hash,
)
