"""Sparse tar members written by hand (``tarfile`` reads them but cannot write them).

Four encodings, as GNU tar writes them: the old-GNU ``S`` type (sparse map in
the header), and PAX GNU sparse 0.0 (``GNU.sparse.offset``/``numbytes``
records), 0.1 (``GNU.sparse.map``) and 1.0 (the map at the start of the data).
Each member stores ``data`` once, at the very end of a file of ``realsize``
bytes: everything before it is a hole.
"""

from __future__ import annotations

from collections.abc import Callable

BLOCK = 512


def _header(
    name: bytes, size: int, typeflag: bytes, *, gnu: bool = False, extra: dict[int, bytes] | None = None
) -> bytes:
    head = bytearray(BLOCK)
    head[0 : min(len(name), 100)] = name[:100]
    head[100:108] = b"0000644\0"
    head[108:116] = b"0000000\0"
    head[116:124] = b"0000000\0"
    head[124:136] = b"%011o\0" % size
    head[136:148] = b"%011o\0" % 1_700_000_000
    head[156:157] = typeflag
    if gnu:
        head[257:265] = b"ustar  \0"
    else:
        head[257:265] = b"ustar\x0000"
    for offset, value in (extra or {}).items():
        head[offset : offset + len(value)] = value
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


def _pax(name: bytes, records: dict[str, str]) -> bytes:
    body = b""
    for key, value in records.items():
        record = f" {key}={value}\n".encode()
        length = len(record) + 1
        while len(str(length)) + len(record) != length:
            length = len(str(length)) + len(record)
        body += str(length).encode() + record
    return _header(b"PaxHeaders/" + name[-80:], len(body), b"x") + _pad(body)


def old_gnu(name: bytes, data: bytes, realsize: int) -> bytes:
    """An old-GNU ``S`` member: the sparse map and the real size are header fields."""
    sparse = b"%011o\0" % (realsize - len(data)) + b"%011o\0" % len(data)
    extra = {386: sparse, 482: b"\0", 483: b"%011o\0" % realsize}
    return _header(name, len(data), b"S", gnu=True, extra=extra) + _pad(data)


def gnu_00(name: bytes, data: bytes, realsize: int) -> bytes:
    """PAX GNU sparse 0.0: one ``GNU.sparse.offset``/``numbytes`` pair per segment."""
    records = {
        "GNU.sparse.size": str(realsize),
        "GNU.sparse.numblocks": "1",
        "GNU.sparse.offset": str(realsize - len(data)),
        "GNU.sparse.numbytes": str(len(data)),
    }
    return _pax(name, records) + _header(name, len(data), b"0") + _pad(data)


def gnu_01(name: bytes, data: bytes, realsize: int) -> bytes:
    """PAX GNU sparse 0.1: the map as one ``GNU.sparse.map`` record."""
    records = {
        "GNU.sparse.size": str(realsize),
        "GNU.sparse.numblocks": "1",
        "GNU.sparse.map": f"{realsize - len(data)},{len(data)}",
        "GNU.sparse.name": name.decode(),
    }
    return _pax(name, records) + _header(b"GNUSparseFile.0/" + name[-60:], len(data), b"0") + _pad(data)


def gnu_10(name: bytes, data: bytes, realsize: int) -> bytes:
    """PAX GNU sparse 1.0: the map is decimal lines at the start of the member's data."""
    sparse_map = _pad(f"1\n{realsize - len(data)}\n{len(data)}\n".encode())
    records = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name.decode(),
        "GNU.sparse.realsize": str(realsize),
    }
    stored = sparse_map + data
    return _pax(name, records) + _header(b"GNUSparseFile.0/" + name[-60:], len(stored), b"0") + _pad(stored)


FORMATS: dict[str, Callable[[bytes, bytes, int], bytes]] = {
    "old-gnu-S": old_gnu,
    "gnu-0.0": gnu_00,
    "gnu-0.1": gnu_01,
    "gnu-1.0": gnu_10,
}


def sparse_layer(
    fmt: str, count: int, realsize: int, data: bytes = b"sparse tail\n", prefix: str = "var/log/hole"
) -> bytes:
    """An uncompressed layer tar of ``count`` sparse members of ``realsize`` bytes each."""
    build = FORMATS[fmt]
    members = b"".join(build(f"{prefix}{index}.bin".encode(), data, realsize) for index in range(count))
    return members + b"\0" * (2 * BLOCK)
