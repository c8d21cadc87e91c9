"""Package + OS -> OSV ecosystem, lookup name and version."""

from __future__ import annotations

import pytest

from shieldwall.match.ecosystems import go_stdlib_version, plan_queries
from shieldwall.model import OSInfo, Package, PackageType


def pkg(kind: PackageType, name: str, version: str, source_name: str = "", source_version: str = "") -> Package:
    return Package(
        kind, name, version, f"pkg:{kind}/{name}@{version}", source_name=source_name, source_version=source_version
    )


def plan(package: Package, os: OSInfo | None = None) -> list[tuple[str, str, str, str]]:
    return [(q.ecosystem, q.name, q.version, q.matcher) for q in plan_queries(package, os).queries]


def test_debian_uses_source_name_and_version_of_the_release() -> None:
    libc = pkg(PackageType.DEB, "libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4")
    assert plan(libc, OSInfo("debian", version="12")) == [
        ("Debian:12", "glibc", "2.36-9+deb12u4", "dpkg-source-matcher")
    ]
    # binNMU: the binary version has +b1, advisories speak of the source version.
    binnmu = pkg(PackageType.DEB, "libfoo1", "1.2-3+b1", "foo", "1.2-3")
    assert plan(binnmu, OSInfo("debian", version="11"))[0][:3] == ("Debian:11", "foo", "1.2-3")
    no_source = pkg(PackageType.DEB, "bash", "5.2.15-2+b2")
    assert plan(no_source, OSInfo("debian", version="12.5")) == [("Debian:12", "bash", "5.2.15-2+b2", "dpkg-matcher")]


def test_ubuntu_alpine_and_rpm_families() -> None:
    openssl = pkg(PackageType.DEB, "libssl3", "3.0.2-0ubuntu1.10", "openssl")
    assert [q[0] for q in plan(openssl, OSInfo("ubuntu", version="22.04"))] == ["Ubuntu:22.04:LTS", "Ubuntu:22.04"]
    apk = pkg(PackageType.APK, "libcrypto3", "3.1.4-r0", "openssl")
    assert plan(apk, OSInfo("alpine", version="3.19.1")) == [
        ("Alpine:v3.19", "openssl", "3.1.4-r0", "apk-origin-matcher")
    ]
    assert plan(apk, OSInfo("wolfi", version="20230201"))[0][0] == "Wolfi"
    rpm = pkg(PackageType.RPM, "openssl-libs", "1:3.0.7-24.el9", "openssl", "1:3.0.7-24.el9")
    assert plan(rpm, OSInfo("rocky", version="9.3")) == [
        ("Rocky Linux:9", "openssl-libs", "1:3.0.7-24.el9", "rpm-matcher"),
        ("Rocky Linux:9", "openssl", "1:3.0.7-24.el9", "rpm-source-matcher"),
    ]
    assert plan(rpm, OSInfo("almalinux", version="8.9"))[0][0] == "AlmaLinux:8"


def test_os_packages_without_a_known_release_are_skipped_with_a_reason() -> None:
    deb = pkg(PackageType.DEB, "bash", "5.2")
    assert "unidentified OS" in plan_queries(deb, None).skipped
    assert "no advisory source" in plan_queries(deb, OSInfo("debian", version="")).skipped
    assert (
        "no advisory source" in plan_queries(pkg(PackageType.RPM, "x", "1-1"), OSInfo("gentoo", version="2.14")).skipped
    )


@pytest.mark.parametrize(
    ("kind", "name", "ecosystem", "matcher"),
    [
        (PackageType.PYPI, "Jinja2", "PyPI", "python-matcher"),
        (PackageType.NPM, "@babel/core", "npm", "javascript-matcher"),
        (PackageType.MAVEN, "org.apache.logging.log4j:log4j-core", "Maven", "java-matcher"),
        (PackageType.CARGO, "hyper", "crates.io", "rust-matcher"),
        (PackageType.GEM, "rails", "RubyGems", "ruby-matcher"),
        (PackageType.COMPOSER, "symfony/http-kernel", "Packagist", "php-matcher"),
        (PackageType.NUGET, "Newtonsoft.Json", "NuGet", "dotnet-matcher"),
        (PackageType.GOLANG, "golang.org/x/net", "Go", "go-module-matcher"),
    ],
)
def test_language_ecosystems(kind: PackageType, name: str, ecosystem: str, matcher: str) -> None:
    assert plan(pkg(kind, name, "1.0.0")) == [(ecosystem, name, "1.0.0", matcher)]


def test_go_stdlib_and_devel() -> None:
    assert plan(pkg(PackageType.GOLANG, "stdlib", "go1.21.5")) == [("Go", "stdlib", "1.21.5", "go-stdlib-matcher")]
    assert go_stdlib_version("go1.21rc2") == "1.21.0-rc.2"
    assert go_stdlib_version("go1.20") == "1.20.0"
    assert go_stdlib_version("go1.22.1 X:boringcrypto") == "1.22.1"
    assert go_stdlib_version("devel go1.23-abcdef") == ""
    assert plan_queries(pkg(PackageType.GOLANG, "stdlib", "devel +abc"), None).skipped
    assert plan_queries(pkg(PackageType.GOLANG, "example.com/m", "(devel)"), None).skipped
    assert "no advisories" in plan_queries(pkg(PackageType.GENERIC, "thing", "1"), None).skipped
    assert plan_queries(pkg(PackageType.PYPI, "x", ""), None).skipped == "no version"


@pytest.mark.parametrize(
    ("version", "ecosystem"),
    [
        ("6.0.10", "Debian:6.0"),
        ("6.0", "Debian:6.0"),
        ("5.0.3", "Debian:5.0"),
        ("3.1", "Debian:3.1"),
        ("7.11", "Debian:7"),
    ],
)
def test_debian_releases_before_7_are_named_major_dot_minor(version: str, ecosystem: str) -> None:
    # osv.dev's Debian export names squeeze "Debian:6.0", lenny "Debian:5.0"...; from wheezy on, the major alone.
    openssl = pkg(PackageType.DEB, "openssl", "0.9.8o-4squeeze14", "openssl")
    assert plan(openssl, OSInfo("debian", version=version))[0][0] == ecosystem
