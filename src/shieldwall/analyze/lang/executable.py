"""Shared helpers for catalogers that read compiled executables (Go build info, cargo-auditable).

``required()`` runs for every file of every layer, so ``is_executable_candidate``
looks only at the mode bits, the declared size and the suffix. Reading ELF
structure goes through pyelftools; its many exception types are turned into
one ``BinaryFormatError`` here, at the call site, so callers can decide whether
a corrupt header is a warning or a reason to fall back to a byte scan.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile

from shieldwall.analyze.base import AnalysisInput, AnalyzerError, FileInfo, basename

MiB = 1024 * 1024
MAX_EXECUTABLE_SIZE = 512 * MiB
MIN_EXECUTABLE_SIZE = 64

ELF_MAGIC = b"\x7fELF"

# Executable files that are obviously not compiled programs: scripts, text, data, archives.
_NOT_BINARY_SUFFIXES = frozenset(
    {
        ".sh", ".bash", ".zsh", ".ksh", ".csh", ".fish", ".py", ".pyc", ".pl", ".pm", ".rb", ".js",
        ".mjs", ".cjs", ".ts", ".php", ".lua", ".tcl", ".awk", ".sed", ".r", ".txt", ".md", ".rst",
        ".json", ".yaml", ".yml", ".toml", ".xml", ".html", ".htm", ".css", ".conf", ".cfg", ".ini",
        ".properties", ".csv", ".log", ".jar", ".war", ".ear", ".zip", ".gz", ".tgz", ".bz2", ".xz",
        ".zst", ".tar", ".7z", ".rpm", ".deb", ".apk", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico",
        ".pdf", ".h", ".c", ".cc", ".cpp", ".go", ".rs", ".java", ".class", ".a", ".o", ".ko",
    }
)  # fmt: skip


class BinaryFormatError(Exception):
    """The file claims to be an executable format but its headers cannot be read."""


def is_executable_candidate(path: str, info: FileInfo) -> bool:
    """Cheap pre-filter for binary catalogers: an executable of plausible size and suffix."""
    if not info.executable or not (MIN_EXECUTABLE_SIZE <= info.size <= MAX_EXECUTABLE_SIZE):
        return False
    name = basename(path).lower()
    dot = name.rfind(".")
    return dot <= 0 or name[dot:] not in _NOT_BINARY_SUFFIXES


def read_executable(input: AnalysisInput, limit: int = MAX_EXECUTABLE_SIZE) -> bytes:
    """The whole file, refusing files over ``limit`` before and after reading (sizes may lie)."""
    if input.info.size > limit:
        raise AnalyzerError(f"executable is {input.info.size} bytes, over the {limit}-byte limit")
    data = input.read()
    if len(data) > limit:
        raise AnalyzerError(f"executable is {len(data)} bytes, over the {limit}-byte limit")
    return data


@dataclass(frozen=True, slots=True)
class LoadSegment:
    """A PT_LOAD program header: where a range of virtual addresses lives in the file."""

    vaddr: int
    offset: int
    filesz: int


@dataclass(frozen=True, slots=True)
class ElfView:
    """What the catalogers need from an ELF file: named sections and loadable segments."""

    little_endian: bool
    pointer_size: int
    machine: str
    sections: dict[str, tuple[int, int]]
    segments: tuple[LoadSegment, ...]

    def section_bytes(self, data: bytes, name: str) -> bytes | None:
        """The file bytes of section ``name`` (None when absent or out of the file's bounds)."""
        where = self.sections.get(name)
        if where is None:
            return None
        offset, size = where
        if offset < 0 or size < 0 or offset + size > len(data):
            return None
        return data[offset : offset + size]

    def file_offset(self, vaddr: int) -> int | None:
        """Translate a virtual address to a file offset through the PT_LOAD segments."""
        for seg in self.segments:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return seg.offset + (vaddr - seg.vaddr)
        return None


_MAX_SECTIONS = 65536


def read_elf(data: bytes) -> ElfView | None:
    """Parse the ELF headers of ``data``; None when it is not ELF, ``BinaryFormatError`` when corrupt."""
    if not data.startswith(ELF_MAGIC):
        return None
    try:
        elf = ELFFile(io.BytesIO(data))
        if elf.num_sections() > _MAX_SECTIONS:
            raise BinaryFormatError(f"ELF declares {elf.num_sections()} sections")
        sections: dict[str, tuple[int, int]] = {}
        for section in elf.iter_sections():
            if section["sh_type"] == "SHT_NOBITS":
                continue
            sections.setdefault(section.name, (int(section["sh_offset"]), int(section["sh_size"])))
        segments = tuple(
            LoadSegment(int(seg["p_vaddr"]), int(seg["p_offset"]), int(seg["p_filesz"]))
            for seg in elf.iter_segments()
            if seg["p_type"] == "PT_LOAD"
        )
        return ElfView(
            little_endian=elf.little_endian,
            pointer_size=8 if elf.elfclass == 64 else 4,
            machine=str(elf["e_machine"]),
            sections=sections,
            segments=segments,
        )
    except BinaryFormatError:
        raise
    except Exception as exc:  # pyelftools raises ELFError, construct errors, struct/Value/IndexError...
        raise BinaryFormatError(f"unreadable ELF headers: {type(exc).__name__}: {exc}") from None
