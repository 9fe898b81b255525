"""RPM's SQLite package database, read from its bytes (no rpm binary, no temporary file).

``rpmdb.sqlite`` keeps one row per package in table ``Packages``: ``blob`` is the package's
header as rpm exports it: two big-endian counts (index entries, data bytes), then 16-byte
index entries (tag, type, offset, count), then the data store. Only the few string and
integer tags an inventory needs are decoded.
"""

from __future__ import annotations

import sqlite3
import struct

__all__ = ["read_rpm_sqlite"]

_NAME, _VERSION, _RELEASE, _EPOCH, _LICENSE, _ARCH = 1000, 1001, 1002, 1003, 1014, 1022
_INT32, _STRING, _I18NSTRING = 4, 6, 9
_MAX_ENTRIES = 100_000


def read_rpm_sqlite(data: bytes) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """(name, version-release, arch, license, epoch) per package; rpm's key pseudo-packages
    (gpg-pubkey) are left out.

    Raises:
        ValueError: the bytes are not an rpm SQLite database.
    """
    if data[:16] == b"SQLite format 3\0" and data[18:20] == b"\x02\x02":
        # rpm keeps its database in WAL mode, which an in-memory copy cannot open; marking it
        # a rollback-journal database reads the same pages (the image holds no -wal file).
        data = data[:18] + b"\x01\x01" + data[20:]
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(data)
        rows = connection.execute("SELECT blob FROM Packages").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"not an rpm SQLite database: {exc}") from exc
    finally:
        connection.close()
    packages = []
    for (blob,) in rows:
        if not isinstance(blob, bytes):
            continue
        tags = _header(blob)
        name = tags.get(_NAME)
        if not isinstance(name, str) or name == "gpg-pubkey":
            continue
        version = f"{tags.get(_VERSION, '')}-{tags.get(_RELEASE, '')}".strip("-")
        epoch = tags.get(_EPOCH)
        packages.append(
            (
                name,
                version,
                _text(tags.get(_ARCH)),
                _text(tags.get(_LICENSE)),
                str(epoch) if isinstance(epoch, int) and epoch else None,
            )
        )
    return packages


def _header(blob: bytes) -> dict[int, str | int]:
    """The wanted tags of one exported header; a damaged header yields what could be read."""
    if len(blob) < 8:
        return {}
    entries, size = struct.unpack(">ii", blob[:8])
    if not 0 < entries < _MAX_ENTRIES or size < 0:
        return {}
    store = 8 + entries * 16
    if store + size > len(blob):
        return {}
    out: dict[int, str | int] = {}
    for index in range(entries):
        tag, kind, offset, _count = struct.unpack(">iiii", blob[8 + index * 16 : 24 + index * 16])
        if tag not in (_NAME, _VERSION, _RELEASE, _EPOCH, _LICENSE, _ARCH) or not 0 <= offset < size:
            continue
        start = store + offset
        if kind in (_STRING, _I18NSTRING):
            end = blob.find(b"\0", start, store + size)
            out[tag] = blob[start : end if end >= 0 else store + size].decode("utf-8", errors="replace")
        elif kind == _INT32 and start + 4 <= store + size:
            out[tag] = struct.unpack(">i", blob[start : start + 4])[0]
    return out


def _text(value: str | int | None) -> str | None:
    return value if isinstance(value, str) and value else None
