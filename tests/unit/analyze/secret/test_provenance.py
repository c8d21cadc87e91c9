"""Quiet on real images: distro files, documentation, third-party packages and fake PEM blocks are set aside
with their reason; application code, deleted layers, ENV and history are still found."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from helpers.images import WHITEOUT, ImageSpec, build_docker_archive
from helpers.secrets import akid, ghp, token
from shieldwall.analyze.os.owned import (
    OwnedLanguageFilesAnalyzer,
    PackageDigestsAnalyzer,
    parse_apk_installed,
    parse_dpkg_list,
    parse_dpkg_md5sums,
    parse_python_record,
)
from shieldwall.analyze.secret.imageconfig import ENV_PATH, history_path
from shieldwall.analyze.secret.provenance import documentation_reason, pem_private_key_reason
from shieldwall.model import Finding, ScanResult
from shieldwall.policy.model import suppressions_of
from shieldwall.report.formats import OutputFormat, render
from shieldwall.service.scan import ScanOptions, scan_target

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "os" / "dpkg-info"
BENCH = Path(__file__).resolve().parents[4] / "benchmarks" / "work" / "cache"


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raw = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return raw.decode()


def _fake_pem(label: str = "RSA PRIVATE KEY") -> str:
    body = base64.b64encode(os.urandom(600)).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_pem_blocks_count_only_when_they_decode_to_a_private_key() -> None:
    assert pem_private_key_reason("private-key-rsa", _rsa_pem().encode()) == ""
    pkcs8 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pem_private_key_reason("private-key-pkcs8", pkcs8) == ""
    ssh = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    assert pem_private_key_reason("private-key-openssh", ssh) == ""
    encrypted = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    assert pem_private_key_reason("private-key-pkcs8-encrypted", encrypted) == ""  # encrypted is still a key
    escaped = _rsa_pem().replace("\n", "\\n").encode()  # as a JSON string value
    assert pem_private_key_reason("private-key-rsa", escaped) == ""
    assert pem_private_key_reason("private-key-rsa", _fake_pem().encode()).startswith("not a private key")
    assert pem_private_key_reason("private-key-pkcs8", _fake_pem("PRIVATE KEY").encode()).startswith("not a private")
    assert pem_private_key_reason("github-pat", b"anything") == ""  # other rules are not judged here


def test_documentation_paths() -> None:
    assert documentation_reason("/usr/share/man/de/man5/apt_auth.conf.5.gz!apt_auth.conf.5").startswith("documentation")
    assert documentation_reason("/usr/share/doc/pip/html/auth.md").startswith("documentation")
    assert documentation_reason("/app/node_modules/axios/README.md").startswith("documentation")
    assert documentation_reason("/app/README.md") == ""  # the application's own README is not third-party
    assert documentation_reason("/app/node_modules/axios/lib/index.js") == ""


def test_committed_dpkg_info_fixture_parses() -> None:
    md5sums, warnings = parse_dpkg_md5sums((FIXTURES / "python3-setuptools.md5sums").read_text(), "python3-setuptools")
    assert warnings == ["line 4: not '<md5>  <path>'"]
    assert len(md5sums) == 3 and all(r.digest.startswith("md5:") and r.path.startswith("/usr/") for r in md5sums)
    listed = parse_dpkg_list((FIXTURES / "python3-setuptools.list").read_text(), "python3-setuptools")
    assert "/usr/lib/python3/dist-packages/setuptools-66.1.1.egg-info/PKG-INFO" in {r.path for r in listed}


def test_apk_and_wheel_records() -> None:
    sha1 = hashlib.sha1(b"x", usedforsecurity=False).digest()
    text = f"P:busybox\nV:1.36\nF:bin\nR:busybox\nZ:Q1{base64.b64encode(sha1).decode()}\n\nP:other\n"
    records, warnings = parse_apk_installed(text)
    assert warnings == [] and [(r.path, r.digest, r.package) for r in records] == [
        ("/bin/busybox", "sha1:" + sha1.hex(), "busybox")
    ]
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"y").digest()).decode().rstrip("=")
    record = f"pkg/a.py,sha256={digest},1\n../../../etc/passwd,sha256={digest},1\npkg-1.0.dist-info/RECORD,,\n"
    found, _ = parse_python_record(record, "/app/site-packages/pkg-1.0.dist-info/RECORD")
    assert [(r.path, r.package) for r in found] == [("/app/site-packages/pkg/a.py", "pkg")]  # no escape
    at_root, _ = parse_python_record(record, "/pkg-1.0.dist-info/RECORD")  # a site-packages directory scanned itself
    assert [r.path for r in at_root] == ["/pkg/a.py"]


def _image(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    s = {name: ghp() for name in ("distro", "edited", "doc", "npm", "wheel", "wheel_edited", "deleted")}
    s |= {"app_akid": akid(), "env": token(18), "hist": "npm_" + token(36)}
    distro = f'GITHUB_TOKEN = "{s["distro"]}"\n'.encode()
    edited_original = b"# default configuration\n"
    edited = edited_original + f'token = "{s["edited"]}"\n'.encode()
    man = gzip.compress(f'.TH AUTH 5\nmachine example.org login user password "{s["doc"]}"\n'.encode(), mtime=0)
    wheel_file = f'API_TOKEN = "{s["wheel"]}"\n'.encode()
    wheel_digest = base64.urlsafe_b64encode(hashlib.sha256(wheel_file).digest()).decode().rstrip("=")
    other = base64.urlsafe_b64encode(hashlib.sha256(b"original").digest()).decode().rstrip("=")
    site = "/app/venv/lib/python3.11/site-packages"
    md5sums = f"{_md5(distro)}  usr/lib/tool/defaults.py\n{_md5(edited_original)}  etc/tool/tool.conf\n"
    layers = [
        {
            "/etc/os-release": b"ID=debian\nVERSION_ID=12\n",
            "/var/lib/dpkg/info/tool.md5sums": md5sums.encode(),
            "/var/lib/dpkg/info/tool.list": b"/usr/lib/tool/defaults.py\n/etc/tool/tool.conf\n",
            "/usr/lib/tool/defaults.py": distro,
            "/etc/tool/tool.conf": edited,
            "/usr/share/man/man5/auth.5.gz": man,
            "/usr/lib/libfake.so": b"\x7fELF\x00\x00" + _fake_pem().encode() + b"\x00",
        },
        {
            f"{site}/lib1/const.py": wheel_file,
            f"{site}/lib1/edited.py": f'API_TOKEN = "{s["wheel_edited"]}"\n'.encode(),
            f"{site}/lib1-1.0.dist-info/RECORD": (
                f"lib1/const.py,sha256={wheel_digest},40\nlib1/edited.py,sha256={other},40\n"
            ).encode(),
            "/app/web/node_modules/debug/package.json": json.dumps({"name": "debug", "version": "2.6.9"}).encode(),
            "/app/web/node_modules/debug/.coveralls.yml": f"repo_token: {s['npm']}\n".encode(),
            "/app/main.py": f'AWS_KEY = "{s["app_akid"]}"\n'.encode(),
            "/app/deploy_key.py": f'KEY = """{_rsa_pem()}"""\n'.encode(),
            "/app/old.py": f'TOKEN = "{s["deleted"]}"\n'.encode(),
        },
        {"/app/old.py": WHITEOUT},
    ]
    spec = ImageSpec(
        created_by=["ADD rootfs /", f"|1 NPM_TOKEN={s['hist']} /bin/sh -c npm ci", "/bin/sh -c rm /app/old.py"],
        env=["PATH=/usr/bin", f"DB_PASSWORD={s['env']}"],
    )
    return build_docker_archive(tmp_path / "img.tar", layers, spec), s


def _by_path(result: ScanResult) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in result.findings:
        if finding.location is not None:
            out.setdefault(finding.location.path.split("!", 1)[0], []).append(finding)
    return out


def test_image_scan_sets_known_content_aside_and_keeps_real_secrets(tmp_path: Path) -> None:
    archive, secrets = _image(tmp_path)
    result = scan_target(f"docker-archive:{archive}", ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
    found = _by_path(result)
    reasons = {path: {f.suppressed for f in found[path]} for path in found}
    assert reasons["/usr/lib/tool/defaults.py"] == {
        "distro content: /usr/lib/tool/defaults.py belongs to Debian package tool and matches the MD5 "
        "its package manager recorded"
    }
    assert {r.split(":")[0] for r in reasons["/usr/share/man/man5/auth.5.gz"]} == {"documentation"}
    assert {r.split(":")[0] for r in reasons["/usr/lib/libfake.so"]} == {"not a private key"}
    assert {r.split(":")[0] for r in reasons["/app/web/node_modules/debug/.coveralls.yml"]} == {
        "third-party package content"
    }
    assert {r.split(":")[0] for r in reasons["/app/venv/lib/python3.11/site-packages/lib1/const.py"]} == {
        "package content"
    }
    # still found: an edited package file, a wheel file that no longer matches RECORD, application code,
    # a real private key, a deleted file, ENV and history
    for path in (
        "/etc/tool/tool.conf",
        "/app/venv/lib/python3.11/site-packages/lib1/edited.py",
        "/app/main.py",
        "/app/deploy_key.py",
        "/app/old.py",
        ENV_PATH,
        history_path(1),
    ):
        assert any(f.active for f in found[path]), (path, reasons.get(path))
    assert found["/app/old.py"][0].deleted_in is not None
    assert {f.rule_id for f in found["/app/deploy_key.py"] if f.active} >= {"private-key-rsa"}
    # every suppression is listed with its reason, and no secret value appears
    table = render(OutputFormat.TABLE, result)
    distro = found["/usr/lib/tool/defaults.py"][0]
    assert [s.kind for s in suppressions_of(distro)] == ["provenance"]  # not an in-file comment
    sarif = json.loads(render(OutputFormat.SARIF, result))
    kinds = {s["kind"] for r in sarif["runs"][0]["results"] for s in r.get("suppressions", [])}
    assert kinds == {"external"}
    assert "distro content" in table and "third-party package content" in table and "not a private key" in table
    for value in secrets.values():
        assert value not in table


def test_suppressions_survive_the_layer_cache(tmp_path: Path) -> None:
    archive, _ = _image(tmp_path)
    options = ScanOptions(scanners=frozenset({"secret"}), cache_dir=tmp_path / "cache")
    first = scan_target(f"docker-archive:{archive}", options)
    again = scan_target(f"docker-archive:{archive}", options)  # every layer from the cache now
    assert list((tmp_path / "cache").rglob("*.json.gz"))
    assert sorted((f.fingerprint, f.suppressed) for f in again.findings) == sorted(
        (f.fingerprint, f.suppressed) for f in first.findings
    )
    assert any(f.suppressed.startswith("distro content") for f in again.findings)


def test_analyzers_are_registered_in_their_families() -> None:
    from shieldwall.analyze.registry import load_analyzers

    secret_only = {a.name for a in load_analyzers(include_plugins=False, scanners={"secret"})}
    assert PackageDigestsAnalyzer.name in secret_only and OwnedLanguageFilesAnalyzer.name not in secret_only
    vuln = {a.name for a in load_analyzers(include_plugins=False, scanners={"vuln"})}
    assert OwnedLanguageFilesAnalyzer.name in vuln


@pytest.mark.slow
@pytest.mark.parametrize("tree", ["debian-rootfs", "node-app", "python-app"])
def test_benchmark_image_trees_report_no_active_secret(tree: str) -> None:
    """The debootstrap'd Debian 12 root filesystem and the real node_modules / wheels of the benchmark image."""
    root = BENCH / tree
    if not root.is_dir():
        pytest.skip(f"{root} absent: build it with `python benchmarks/build_image.py` (as root)")
    result = scan_target(f"dir:{root}", ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
    active = [(f.rule_id, f.location.path if f.location else "") for f in result.findings if f.active]
    assert active == []
    if tree == "debian-rootfs":
        assert sum(1 for f in result.findings if not f.active) > 10  # the noise is there, set aside with reasons
