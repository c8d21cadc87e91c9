"""A compressed image archive (``docker save | gzip``) whose members claim past the ratio limit is a bomb.

Indexing a compressed tar decompresses every member on the way to the next
header, so the claim is checked before the step: a few hundred KiB of gzip
holding hundreds of MiB of zeros is refused without reading them all again.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from shieldwall.errors import UnsafeInputError
from shieldwall.target.blobs import TarBlobs
from shieldwall.target.limits import Limits

MiB = 1 << 20


def _archive(path: Path, size: int, *, compress: bool) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("manifest.json", b"[]"), ("l.tar", b"\0" * size), ("after.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue(), 9) if compress else buf.getvalue())
    return path


def test_a_gzipped_archive_past_the_ratio_is_refused(tmp_path: Path) -> None:
    path = _archive(tmp_path / "bomb.tar.gz", 8 * MiB, compress=True)
    with pytest.raises(UnsafeInputError, match="decompression bomb"):
        TarBlobs(path, Limits(bomb_floor=1 * MiB, max_ratio=100))


def test_an_honest_gzipped_archive_and_an_uncompressed_one_are_read(tmp_path: Path) -> None:
    limits = Limits(bomb_floor=1 * MiB, max_ratio=100)
    plain = TarBlobs(_archive(tmp_path / "plain.tar", 8 * MiB, compress=False), limits)
    assert plain.size("l.tar") == 8 * MiB
    plain.close()
    small = TarBlobs(_archive(tmp_path / "small.tar.gz", 512 * 1024, compress=True), limits)  # under the floor
    assert small.exists("after.json")
    small.close()
