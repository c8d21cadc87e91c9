"""Synthetic executables for the binary catalogers, so no multi-MB binary is committed.

``build_elf`` writes a minimal, valid 64-bit little-endian ELF executable:

    offset 0     ELF header (64 bytes)
    offset 64    one PT_LOAD program header (56 bytes) mapping the whole file at BASE_VADDR
    offset 128   the sections' bytes, in order, each aligned to 16
    ...          .shstrtab (section names)
    ...          section header table (null, the given sections, .shstrtab), aligned to 8

so section ``i``'s virtual address is ``BASE_VADDR + its file offset`` and the
first section always starts at ``FIRST_SECTION_OFFSET``. pyelftools (and
``readelf``) read it like a linker's output.

``go_buildinfo`` writes the Go 1.18+ ``.go.buildinfo`` payload: the 32-byte
header (``"\\xff Go buildinf:"``, pointer size 8, flags 0x2 = inline strings,
16 zero bytes), then the Go version and the module info, each prefixed by its
length as a uvarint; the module info is wrapped in the toolchain's two 16-byte
sentinels. ``go_buildinfo_pointers`` writes the pre-1.18 layout instead: two
8-byte virtual addresses of Go string headers (data pointer, length), with the
headers and bytes placed after the 32-byte header in the same section.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence

BASE_VADDR = 0x400000
FIRST_SECTION_OFFSET = 128

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SHT_PROGBITS, _SHT_STRTAB, _SHF_ALLOC = 1, 3, 2

GO_MAGIC = b"\xff Go buildinf:"
INFO_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
INFO_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"


def _pad(buf: bytearray, align: int) -> None:
    buf.extend(b"\0" * (-len(buf) % align))


def build_elf(sections: Sequence[tuple[str, bytes]], *, machine: int = 62) -> bytes:
    """A minimal ELF64 executable holding ``sections`` (name, bytes) in order."""
    body = bytearray(b"\0" * FIRST_SECTION_OFFSET)
    placed: list[tuple[int, int, int]] = []  # (name offset, file offset, size)
    names = bytearray(b"\0")
    for name, data in sections:
        _pad(body, 16)
        placed.append((len(names), len(body), len(data)))
        names += name.encode() + b"\0"
        body += data
    shstr_name = len(names)
    names += b".shstrtab\0"
    _pad(body, 16)
    shstr_offset = len(body)
    body += names
    _pad(body, 8)
    shoff = len(body)
    headers = [_SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    for name_off, off, size in placed:
        headers.append(_SHDR.pack(name_off, _SHT_PROGBITS, _SHF_ALLOC, BASE_VADDR + off, off, size, 0, 0, 16, 0))
    headers.append(_SHDR.pack(shstr_name, _SHT_STRTAB, 0, 0, shstr_offset, len(names), 0, 0, 1, 0))
    body += b"".join(headers)
    total = len(body)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    body[0:64] = _EHDR.pack(
        ident, 2, machine, 1, BASE_VADDR, 64, shoff, 0, 64, 56, 1, 64, len(headers), len(headers) - 1
    )
    body[64:120] = _PHDR.pack(1, 5, 0, BASE_VADDR, BASE_VADDR, total, total, 0x1000)
    return bytes(body)


def uvarint(value: int) -> bytes:
    """Go's unsigned varint encoding."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def modinfo(lines: Sequence[str]) -> bytes:
    """Module info text as the linker stores it: sentinel, tab-separated lines, sentinel."""
    return INFO_START + ("\n".join(lines) + "\n").encode() + INFO_END


def go_buildinfo(go_version: str, lines: Sequence[str]) -> bytes:
    """The Go 1.18+ ``.go.buildinfo`` section content (inline, varint-prefixed strings)."""
    header = GO_MAGIC + bytes([8, 0x2]) + b"\0" * 16
    version = go_version.encode()
    mod = modinfo(lines)
    return header + uvarint(len(version)) + version + uvarint(len(mod)) + mod


def go_buildinfo_pointers(go_version: str, lines: Sequence[str], section_vaddr: int) -> bytes:
    """The pre-1.18 layout for a section mapped at ``section_vaddr``."""
    version = go_version.encode()
    mod = modinfo(lines)
    vers_hdr = section_vaddr + 32
    mod_hdr = section_vaddr + 48
    vers_data = section_vaddr + 64
    mod_data = vers_data + len(version)
    return (
        GO_MAGIC
        + bytes([8, 0])
        + struct.pack("<QQ", vers_hdr, mod_hdr)
        + struct.pack("<QQ", vers_data, len(version))
        + struct.pack("<QQ", mod_data, len(mod))
        + version
        + mod
    )


def cargo_dep_section(packages: Sequence[dict[str, object]]) -> bytes:
    """A cargo-auditable ``.dep-v0`` payload: zlib-compressed JSON."""
    return zlib.compress(json.dumps({"packages": list(packages)}).encode())
