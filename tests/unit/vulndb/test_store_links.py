"""The advisory database is never written through a symbolic link that leads out of its directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.errors import InputError
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB


def test_a_linked_database_directory_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "vulndb").symlink_to(elsewhere)
    with pytest.raises(InputError, match="symbolic link"), VulnDB.build(data / "vulndb" / "vulndb.sqlite") as writer:
        writer.replace_source(SourceInfo("x"), [])
    assert list(elsewhere.iterdir()) == []


def test_a_linked_database_file_leading_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sqlite"
    outside.write_bytes(b"")
    folder = tmp_path / "vulndb"
    folder.mkdir()
    (folder / "vulndb.sqlite").symlink_to(outside)
    with pytest.raises(InputError, match="symbolic link out of"), VulnDB.build(folder / "vulndb.sqlite"):
        pass
    assert outside.read_bytes() == b""


def test_a_plain_directory_still_works(tmp_path: Path) -> None:
    with VulnDB.build(tmp_path / "vulndb" / "vulndb.sqlite") as writer:
        writer.replace_source(SourceInfo("x"), [])
    assert (tmp_path / "vulndb" / "vulndb.sqlite").is_file()
