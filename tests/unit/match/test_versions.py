"""Hand-written orderings for the tricky versions of each ecosystem.

Each row is ``(ecosystem, a, relation, b)``; the relation must hold for the
parsed versions and its mirror must hold with the operands swapped.
"""

from __future__ import annotations

import contextlib

import pytest

from shieldwall.match.versions import (
    ECOSYSTEM_SCHEMES,
    InvalidVersion,
    ParsedVersion,
    UnknownEcosystemError,
    scheme_for,
)

ORDER = [
    # Debian: epochs win over everything, "~" sorts before the empty string, revisions compare.
    ("Debian:12", "1:1.0", ">", "2.0"),
    ("Debian:12", "1.0~rc1", "<", "1.0"),
    ("Debian:12", "1.0~~", "<", "1.0~"),
    ("Debian:12", "1.0~rc1", "<", "1.0~rc2"),
    ("Debian:12", "0:1.0", "==", "1.0"),
    ("Debian:12", "1.0+b1", ">", "1.0"),
    ("Debian:11", "1.1.1n-0+deb11u5", ">", "1.1.1n-0+deb11u4"),
    ("Debian:11", "1.1.1n-0+deb11u5", "==", "1.1.1n-0+deb11u5"),
    ("Debian:12", "2.36-9+deb12u4", "<", "2.36-9+deb12u10"),
    ("Ubuntu:22.04", "3.0.2-0ubuntu1.10", "<", "3.0.2-0ubuntu1.15"),
    ("Ubuntu:22.04", "1:9.18.18-0ubuntu0.22.04.1", ">", "9.99"),
    # Alpine: -rN revisions, _p patch suffix above the release, _rc/_pre/_alpha below it.
    ("Alpine:v3.19", "1.2.3-r1", ">", "1.2.3-r0"),
    ("Alpine:v3.19", "1.36.1-r2", "<", "1.36.1-r15"),
    ("Alpine:v3.19", "1.2.3_p1", ">", "1.2.3"),
    ("Alpine:v3.19", "1.2.3_p1-r0", ">", "1.2.3-r9"),
    ("Alpine:v3.19", "1.2.3_rc1", "<", "1.2.3"),
    ("Alpine:v3.19", "1.2.3_rc1-r5", "<", "1.2.3-r0"),
    ("Alpine:v3.19", "1.0_alpha", "<", "1.0_beta"),
    ("Alpine:v3.19", "1.0_pre1", "<", "1.0_rc1"),
    ("Alpine:v3.19", "1.1.1k-r0", ">", "1.1.1j-r3"),
    ("Alpine:v3.19", "3.0.10-r0", ">", "3.0.9-r0"),
    # npm / SemVer 2.0: pre-releases below the release, numeric identifiers numerically.
    ("npm", "1.0.0-alpha", "<", "1.0.0"),
    ("npm", "1.0.0-alpha", "<", "1.0.0-alpha.1"),
    ("npm", "1.0.0-alpha.beta", "<", "1.0.0-beta"),
    ("npm", "1.0.0-beta.2", "<", "1.0.0-beta.11"),
    ("npm", "1.0.0-rc.1", "<", "1.0.0"),
    ("npm", "1.0.0+build.1", "==", "1.0.0"),
    ("crates.io", "0.10.0", ">", "0.9.9"),
    ("crates.io", "1.0.0-pre.1", "<", "1.0.0"),
    # Go: "v" prefix optional, pseudo-versions order by time and sit below their base release.
    ("Go", "v0.0.0-20210101000000-abcdef123456", "<", "v0.0.0-20220101000000-abcdef123456"),
    ("Go", "v1.2.4-0.20210101000000-abcdef123456", "<", "v1.2.4"),
    ("Go", "v1.2.4-0.20210101000000-abcdef123456", ">", "v1.2.3"),
    ("Go", "v2.0.0+incompatible", "==", "2.0.0"),
    ("Go", "v2.0.0+incompatible", "<", "v2.0.1"),
    ("Go", "1.21.0-rc.2", "<", "1.21.0"),
    ("Go", "v1.10.0", ">", "v1.9.9"),
    # Maven: alpha < beta < milestone < rc < snapshot < release = ga = final < sp.
    ("Maven", "1.0-alpha", "<", "1.0-beta"),
    ("Maven", "1.0-beta", "<", "1.0-rc"),
    ("Maven", "1.0-milestone-1", "<", "1.0-rc-1"),
    ("Maven", "1.0-rc", "<", "1.0-SNAPSHOT"),
    ("Maven", "1.0-SNAPSHOT", "<", "1.0"),
    ("Maven", "1.0-rc", "<", "1.0"),
    ("Maven", "1.0", "==", "1.0.0"),
    ("Maven", "1.0-ga", "==", "1.0"),
    ("Maven", "1.0-final", "==", "1.0"),
    ("Maven", "1.0-cr1", "==", "1.0-rc1"),
    ("Maven", "1.0", "<", "1.0-sp"),
    ("Maven", "2.9.10.8", ">", "2.9.10"),
    ("Maven", "2.12.7.1", "<", "2.13.0"),
    # NuGet: case-insensitive pre-release labels, trailing zero segments ignored.
    ("NuGet", "1.0.0-alpha", "<", "1.0.0"),
    ("NuGet", "1.0", "==", "1.0.0.0"),
    ("NuGet", "1.0.0-Beta", "==", "1.0.0-beta"),
    ("NuGet", "4.0.0-rc.2", "<", "4.0.0-rc.10"),
    # RubyGems: letters make a pre-release, extra segments count.
    ("RubyGems", "1.0.0.pre", "<", "1.0.0"),
    ("RubyGems", "1.0.0.a", "<", "1.0.0.b"),
    ("RubyGems", "5.0.0.1", ">", "5.0.0"),
    ("RubyGems", "1.0", "==", "1.0.0"),
    ("RubyGems", "1.0.0-rc1", "<", "1.0.0"),
    # PEP 440: dev < pre < release < post; local labels sort above their public version.
    ("PyPI", "1.0.dev0", "<", "1.0a1"),
    ("PyPI", "1.0a1", "<", "1.0b1"),
    ("PyPI", "1.0b1", "<", "1.0rc1"),
    ("PyPI", "1.0rc1", "<", "1.0"),
    ("PyPI", "1.0", "<", "1.0.post1"),
    ("PyPI", "1.0", "<", "1.0+local"),
    ("PyPI", "1.0+local", "<", "1.0.post1"),
    ("PyPI", "1.0", "==", "1.0.0"),
    ("PyPI", "1!0.1", ">", "2.0"),
    ("PyPI", "1.0-RC1", "==", "1.0rc1"),
    # RPM: epoch:version-release, ~ before the release, ^ after it.
    ("Rocky Linux:9", "1:1.0-1", ">", "2.0-1"),
    ("Rocky Linux:9", "0:1.0-1", "==", "1.0-1"),
    ("AlmaLinux:9", "1.0-1.el9", "<", "1.0-1.el9_2"),
    ("AlmaLinux:9", "3.0.7-16.el9_2", "<", "3.0.7-24.el9"),
    ("Red Hat", "1.0~rc1-1", "<", "1.0-1"),
    ("Red Hat", "1.0^git1-1", ">", "1.0-1"),
    # Packagist: dev < alpha < beta < RC < stable, case-insensitive, "v" prefix, 4 segments.
    ("Packagist", "1.0.0-beta1", "<", "1.0.0-RC1"),
    ("Packagist", "1.0.0-beta9", "<", "1.0.0-beta10"),
    ("Packagist", "1.0.0-dev", "<", "1.0.0-alpha1"),
    ("Packagist", "v2.3.4", "==", "2.3.4"),
    ("Packagist", "1.0.0.0", "==", "1.0.0"),
]

MIRROR = {"<": ">", ">": "<", "==": "=="}


def _holds(a: ParsedVersion, rel: str, b: ParsedVersion) -> bool:
    if rel == "<":
        return a < b and a <= b and not a >= b and a != b
    if rel == ">":
        return a > b and a >= b and not a <= b and a != b
    return a == b and a <= b and a >= b and not a < b and not a > b


@pytest.mark.parametrize(("ecosystem", "a", "rel", "b"), ORDER)
def test_order(ecosystem: str, a: str, rel: str, b: str) -> None:
    scheme = scheme_for(ecosystem)
    pa, pb = scheme.parse(a), scheme.parse(b)
    assert _holds(pa, rel, pb), f"{ecosystem}: expected {a} {rel} {b}"
    assert _holds(pb, MIRROR[rel], pa)


def test_sorting_uses_the_scheme_order() -> None:
    scheme = scheme_for("Alpine:v3.18")
    texts = ["1.36.1-r15", "1.36.1-r2", "1.36.1_rc1-r0", "1.36.1_p2-r0", "1.35.0-r31"]
    ordered = [v.text for v in sorted(scheme.parse(t) for t in texts)]
    assert ordered == ["1.35.0-r31", "1.36.1_rc1-r0", "1.36.1-r2", "1.36.1-r15", "1.36.1_p2-r0"]


@pytest.mark.parametrize(
    ("ecosystem", "text"),
    [
        ("PyPI", "not a version"),
        ("PyPI", ""),
        ("npm", "1.2"),
        ("npm", "1.2.3.4"),
        ("npm", "01.2.3"),
        ("crates.io", "latest"),
        ("Go", "(devel)"),
        ("Debian:12", "abc"),
        ("Alpine:v3.19", "1.18.-r2"),
        ("Alpine:v3.19", "6.6.2p1-r0"),
        ("Packagist", "dev-master"),
        ("PyPI", "1" * 300),
    ],
)
def test_invalid_versions_raise(ecosystem: str, text: str) -> None:
    scheme = scheme_for(ecosystem)
    with pytest.raises(InvalidVersion):
        scheme.parse(text)
    with pytest.raises(InvalidVersion):  # cached failures raise again
        scheme.parse(text)


def test_unknown_ecosystem_is_an_explicit_error() -> None:
    with pytest.raises(UnknownEcosystemError, match="Haiku"):
        scheme_for("Haiku:r1")


def test_release_suffix_does_not_change_the_scheme() -> None:
    assert scheme_for("Debian:11") is scheme_for("Debian:12") is ECOSYSTEM_SCHEMES["Debian"]
    assert scheme_for("Ubuntu:22.04:LTS") is ECOSYSTEM_SCHEMES["Debian"]


def test_versions_of_different_schemes_do_not_compare() -> None:
    a = scheme_for("PyPI").parse("1.0")
    b = scheme_for("npm").parse("1.0.0")
    with pytest.raises(TypeError):
        _ = a < b
    assert a != b


def test_garbage_never_escapes_as_another_exception() -> None:
    samples = ["\x00", "~", ":", "-", "1:", ":1", "1-", "v", "1..2", "_p", "-r", "1.0-r", "é", "1.0~~~~~", "9" * 200]
    for ecosystem in ECOSYSTEM_SCHEMES:
        scheme = scheme_for(ecosystem)
        for text in samples:
            with contextlib.suppress(InvalidVersion):
                scheme.parse(text)
