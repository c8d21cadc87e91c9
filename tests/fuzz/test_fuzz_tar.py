"""Fuzz the tar walker: random bytes, mutated valid tars and generated headers."""

from __future__ import annotations

import contextlib
import io
import tarfile

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.fuzzkit import FUZZ, mutated_bytes
from shieldwall.errors import CorruptInputError, FileTooLargeError, InputError
from shieldwall.target.entries import EntryKind, walk_tar_stream
from shieldwall.target.limits import DEFAULT_LIMITS

pytestmark = pytest.mark.slow  # bounded (150 examples per property) and run by `make test`


def walk_all(data: bytes) -> int:
    """Walk every entry and read every file; returns how many entries there were."""
    count = 0
    for entry in walk_tar_stream(io.BytesIO(data), DEFAULT_LIMITS, "fuzz"):
        count += 1
        if entry.kind is EntryKind.FILE:
            try:
                content = entry.read()
            except FileTooLargeError:
                continue
            assert len(content) <= DEFAULT_LIMITS.max_file_bytes
    return count


def walk_ok(data: bytes) -> None:
    """The walk either succeeds or raises an ``InputError`` (exit 2), nothing else."""
    with contextlib.suppress(InputError):
        walk_all(data)


def valid_tar(fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, content in (("etc/os-release", b"ID=debian\nVERSION_ID=12\n"), ("app/a.txt", b"hello")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("app/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "a.txt"
        tar.addfile(link)
        hard = tarfile.TarInfo("app/hard")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "app/a.txt"
        tar.addfile(hard)
    return buf.getvalue()


VALID_PAX = valid_tar()
VALID_GNU = valid_tar(tarfile.GNU_FORMAT)


def test_valid_tar_walks() -> None:
    """The seed tars are walkable (the mutations start from something real)."""
    assert walk_all(VALID_PAX) == 4
    assert walk_all(VALID_GNU) == 4


@FUZZ
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\x00" * 1024)
def test_random_bytes(data: bytes) -> None:
    """Random bytes are not a tar, or a corrupt one: never another exception."""
    walk_ok(data)


@FUZZ
@given(st.sampled_from([VALID_PAX, VALID_GNU]).flatmap(mutated_bytes))
def test_mutated_tar(data: bytes) -> None:
    """Valid tars with flipped, cut and inserted bytes."""
    walk_ok(data)


@FUZZ
@given(
    st.sampled_from([VALID_PAX, VALID_GNU]),
    st.integers(min_value=0, max_value=511),
    st.binary(min_size=1, max_size=12),
)
def test_mutated_header_fields(seed: bytes, offset: int, patch: bytes) -> None:
    """Overwrite bytes inside the first header (name, mode, size, checksum, typeflag, magic...)."""
    data = bytearray(seed)
    data[offset : offset + len(patch)] = patch
    walk_ok(bytes(data[: len(seed)]))


_NAMES = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)
_TYPES = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.AREGTYPE,
        tarfile.LNKTYPE,
        tarfile.SYMTYPE,
        tarfile.CHRTYPE,
        tarfile.DIRTYPE,
        tarfile.FIFOTYPE,
        tarfile.CONTTYPE,
        b"Z",
        b"x",
        b"g",
    ]
)


@FUZZ
@given(
    st.lists(
        st.tuples(_NAMES, _TYPES, _NAMES, st.binary(max_size=64), st.dictionaries(_NAMES, _NAMES, max_size=3)),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
)
def test_generated_members(members: list[tuple[str, bytes, str, bytes, dict[str, str]]], fmt: int) -> None:
    """Members with generated names, link targets, types and PAX records."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, linkname, content, pax in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = linkname
            if fmt == tarfile.PAX_FORMAT:
                info.pax_headers = {k: v for k, v in pax.items() if k.isascii() and "=" not in k}
            if info.isreg():
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    walk_ok(buf.getvalue())


def test_regression_truncated_member_data_is_corrupt_input() -> None:
    """Found by this harness: a member whose data stops short raised tarfile.ReadError from ``read()``.

    Every reader of entry content (analyzers, the misconfiguration pass) only
    expects the documented errors; a truncated member is a corrupt layer.
    """
    cut = VALID_PAX[: VALID_PAX.index(b"ID=debian") + 5]
    entries = walk_tar_stream(io.BytesIO(cut), DEFAULT_LIMITS, "layer 0")
    first = next(entries)
    assert first.path == "/etc/os-release"
    with pytest.raises(CorruptInputError, match="layer 0: truncated or corrupt member /etc/os-release"):
        first.read()
