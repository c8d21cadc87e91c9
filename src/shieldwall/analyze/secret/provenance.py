"""What is known about a file decides whether its secret-shaped strings are credentials.

Three kinds of knowledge set a match aside (suppressed, with its reason,
never dropped: ``--show-suppressed`` and every report list it):

- **documentation**: man and info pages, ``/usr/share/doc``, and the READMEs,
  changelogs and Markdown/reStructuredText of third-party packages
  (``node_modules``, ``site-packages``, ``dist-packages``, ``vendor``) show
  example credentials, not real ones;
- **not a private key**: a PEM block counts as a private key only when it
  decodes to one (parsed with ``cryptography``; an encrypted key counts, a
  header string inside a shared library or random base64 does not);
- **distro content**: a file an OS package installed that still matches the
  digest its package manager recorded (dpkg's ``.md5sums``, apk's ``Z:``
  SHA-1) is the distribution's own file; the same holds for a file of an
  installed wheel that matches the SHA-256 of its ``RECORD``. A file edited
  after installation does not match and stays active;
- **third-party package content**: a file inside a ``node_modules`` package
  directory whose ``package.json`` names a published package. npm keeps no
  per-file digest, so the reason says the bytes were not verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_ssh_private_key

from shieldwall.analyze.base import FileRecord
from shieldwall.model import Finding, FindingKind

_DOC_DIRS = re.compile(r"^/usr/(?:local/)?share/(?:doc|man|info|gtk-doc|help|javadoc|doc-base)/|/man/man[0-9n]/")
_THIRD_PARTY = re.compile(r"/(?:node_modules|site-packages|dist-packages|vendor|bower_components)/")
_DOC_NAMES = re.compile(
    r"/(?:README|CHANGELOG|CHANGES|HISTORY|NEWS|UPGRADING|MIGRATION|CONTRIBUTING)[^/]*$|\.(?:md|markdown|rst|adoc)$",
    re.IGNORECASE,
)
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_PEM_RULES = frozenset(
    {
        "private-key-rsa",
        "private-key-ec",
        "private-key-dsa",
        "private-key-pkcs8",
        "private-key-pkcs8-encrypted",
        "private-key-openssh",
        "private-key-pgp",
    }
)


def documentation_reason(path: str) -> str:
    """The suppression reason when ``path`` is documentation, else ""."""
    outer = path.split("!", 1)[0]
    if _DOC_DIRS.search(outer):
        kind = "man page" if "/man/" in outer else "info page" if "/info/" in outer else "documentation directory"
        return f"documentation: {kind} ({outer.rsplit('/', 1)[0]}/); examples, not credentials"
    if _THIRD_PARTY.search(path) and _DOC_NAMES.search(path):
        return "documentation: a third-party package's README/changelog/Markdown; examples, not credentials"
    return ""


_QUOTING = re.compile(rb"^[\s+]*[\"']|[\"'][\s+,;)]*$|\\$")


def _armor_body(raw: bytes) -> tuple[list[bytes], bytes]:
    """Armor headers and the base64 body of a PEM block that may be escaped or quoted in source code."""
    text = raw.replace(b"\\r", b"\n").replace(b"\\n", b"\n")
    headers: list[bytes] = []
    body: list[bytes] = []
    for line in text.splitlines():
        cleaned = _QUOTING.sub(b"", line.strip()).strip()
        if not cleaned:
            continue
        if b":" in cleaned and not body:
            headers.append(cleaned)
            continue
        body.append(re.sub(rb"[^A-Za-z0-9+/=]", b"", cleaned))
    return headers, b"".join(body)


def _pgp_secret_key(body: bytes) -> bool:
    data = body.split(b"=")[0] if body.count(b"=") and not body.endswith(b"=") else body
    try:
        packet = base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return False
    if len(packet) < 32 or not packet[0] & 0x80:
        return False
    tag = packet[0] & 0x3F if packet[0] & 0x40 else (packet[0] >> 2) & 0x0F
    return tag in (5, 7)  # secret key, secret subkey


def pem_private_key_reason(rule_id: str, secret: bytes) -> str:
    """ "" when the PEM block in ``secret`` decodes to a private key; else why it is not one.

    Only the PEM rules are checked; any other rule's match returns "".
    """
    if rule_id not in _PEM_RULES:
        return ""
    block = _PEM.search(secret.replace(b"\\n", b"\n"))
    if block is None:
        return "not a private key: no complete PEM block"
    label = block.group(1).decode("ascii", errors="replace")
    headers, body = _armor_body(block.group(2))
    if len(body) < 64:
        return f"not a private key: the {label} block has no body"
    if label == "PGP PRIVATE KEY BLOCK":
        return "" if _pgp_secret_key(body) else "not a private key: the PGP block holds no secret-key packet"
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = b"\n".join([f"-----BEGIN {label}-----".encode(), *headers, *([b""] if headers else []), *lines])
    pem += f"\n-----END {label}-----\n".encode()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DSA deprecation notices: the question is only whether it decodes
            if label == "OPENSSH PRIVATE KEY":
                load_ssh_private_key(pem, password=None)
            else:
                load_pem_private_key(pem, password=None)
    except TypeError:
        return ""  # encrypted: a private key all the same
    except (ValueError, binascii.Error) as exc:
        if "password-protected" in str(exc):  # an encrypted OpenSSH key in older cryptography releases
            return ""
        return f"not a private key: the {label} block does not decode to one (cryptography refused it)"
    except Exception:  # cryptography raises UnsupportedAlgorithm and others for odd blocks
        return f"not a private key: the {label} block does not decode to a supported key"
    return ""


def content_records(path: str, data: bytes) -> tuple[FileRecord, ...]:
    """Digests of a flagged file (MD5 as dpkg records, SHA-1 as apk records) to compare with the package DB."""
    outer = path.split("!", 1)[0]
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    return (FileRecord(outer, "md5:" + md5), FileRecord(outer, "sha1:" + sha1), FileRecord(outer, "sha256:" + sha256))


_NPM_DIR = re.compile(r"^(.*/node_modules/(?:@[^/]+/)?[^/]+/)")


def _manager_name(manager: str) -> str:
    names = {
        "dpkg": "Debian package",
        "apk": "Alpine package",
        "rpm": "RPM package",
        "pip": "the installed Python distribution",
    }
    return names.get(manager, f"{manager} package")


def _npm_reason(path: str, package_records: Mapping[str, Sequence[FileRecord]]) -> str:
    match = _NPM_DIR.match(path)
    if match is None:
        return ""
    for record in package_records.get(match.group(1), ()):
        if record.manager == "npm":
            return (
                f"third-party package content: {match.group(1)} holds the published npm package {record.package} "
                "(npm records no per-file digest, so the bytes are not verified)"
            )
    return ""


def mark_distro_content(
    findings: Sequence[Finding],
    package_records: Mapping[str, Sequence[FileRecord]],
    content: Mapping[tuple[str, str], frozenset[str]],
) -> tuple[Finding, ...]:
    """Suppress secret findings in files whose bytes match the digest their OS package recorded.

    ``package_records`` maps a path to the package-database records for it;
    ``content`` maps (layer digest, path) to the digests of the flagged file
    in that layer. A finding already suppressed keeps its first reason.
    """
    out: list[Finding] = []
    for finding in findings:
        if finding.kind is not FindingKind.SECRET or finding.suppressed or finding.location is None:
            out.append(finding)
            continue
        outer = finding.location.path.split("!", 1)[0]
        layer = finding.location.layer.digest if finding.location.layer is not None else ""
        digests = content.get((layer, outer), frozenset())
        reason = ""
        for record in package_records.get(outer, ()):
            if record.digest and record.digest in digests:
                algorithm = record.digest.split(":", 1)[0].upper()
                kind = "package content" if record.manager == "pip" else "distro content"
                keeper = "its RECORD lists" if record.manager == "pip" else "its package manager recorded"
                reason = (
                    f"{kind}: {outer} belongs to {_manager_name(record.manager)} {record.package} "
                    f"and matches the {algorithm} {keeper}"
                )
                break
        if not reason:
            reason = _npm_reason(outer, package_records)
        out.append(replace(finding, suppressed=reason) if reason else finding)
    return tuple(out)


def index_records(
    records: Iterable[tuple[str, FileRecord]],
) -> tuple[dict[str, list[FileRecord]], dict[tuple[str, str], frozenset[str]]]:
    """Split (layer digest, record) pairs into package-database records by path and flagged-file digests."""
    packages: dict[str, list[FileRecord]] = {}
    content: dict[tuple[str, str], set[str]] = {}
    for layer, record in records:
        if record.package:
            packages.setdefault(record.path, []).append(record)
        else:
            content.setdefault((layer, record.path), set()).add(record.digest)
    return packages, {key: frozenset(value) for key, value in content.items()}
