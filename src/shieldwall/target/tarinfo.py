"""Tar headers read with a bound: a PAX record or a GNU long name is metadata, not a file.

Python's ``tarfile`` reads a PAX extended header or a GNU long name/link
record whole before it looks at it, so a 1 GiB PAX header or a 600 MiB long
name costs gigabytes of memory. ``BoundedTarInfo`` refuses such records above
``MAX_HEADER_RECORD_BYTES`` before reading them (the archive is then corrupt:
exit 2 with a one-line diagnosis). Real records are a few kilobytes (a path
is at most 4 KiB on Linux).
"""

from __future__ import annotations

import tarfile
from typing import Any

MAX_HEADER_RECORD_BYTES = 1024 * 1024

_RECORD_TYPES = frozenset(
    {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
)


class BoundedTarInfo(tarfile.TarInfo):
    """A ``TarInfo`` whose PAX and GNU long-name records are bounded in size."""

    def _proc_member(self, tarfile_: Any) -> Any:
        if self.type in _RECORD_TYPES and self.size > MAX_HEADER_RECORD_BYTES:
            kind = "PAX header" if self.type in (tarfile.XHDTYPE, tarfile.XGLTYPE) else "long name record"
            raise tarfile.ReadError(f"a {kind} of {self.size} bytes is above the {MAX_HEADER_RECORD_BYTES}-byte limit")
        return super()._proc_member(tarfile_)  # type: ignore[misc]
