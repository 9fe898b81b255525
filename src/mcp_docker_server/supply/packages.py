"""Package databases read from an image's files, into one package list. Pure: bytes in.

Read: Debian/Ubuntu dpkg (``var/lib/dpkg/status`` and distroless ``status.d/``), Alpine apk
(``lib/apk/db/installed``), RPM in its SQLite form (``rpmdb.sqlite``: Fedora 33+, RHEL 9+),
Python ``*.dist-info/METADATA`` and ``*.egg-info/PKG-INFO``, and npm ``package.json`` directly
under a ``node_modules`` folder. Not read, and reported as such: RPM's Berkeley DB
``Packages`` (RHEL 8 and older) and its NDB ``Packages.db`` (SUSE).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mcp_docker_server.supply.rpmdb import read_rpm_sqlite

__all__ = ["OS_RELEASE", "Package", "find_packages", "os_release", "wanted"]

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_DIR = "var/lib/dpkg/status.d/"
APK = "lib/apk/db/installed"
RPM_SQLITE = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
RPM_UNREAD = {
    "var/lib/rpm/Packages": "RPM Berkeley DB",
    "usr/lib/sysimage/rpm/Packages": "RPM Berkeley DB",
    "var/lib/rpm/Packages.db": "RPM NDB",
    "usr/lib/sysimage/rpm/Packages.db": "RPM NDB",
}
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_PY_META = re.compile(r"[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO)$")


@dataclass(frozen=True)
class Package:
    """One installed package."""

    ecosystem: str  # deb, apk, rpm, pypi, npm
    name: str
    version: str
    arch: str | None = None
    license: str | None = None
    epoch: str | None = None
    path: str | None = None  # where it was found (python and npm)


def wanted(path: str) -> bool:
    """Whether an image file is one of the package databases this module reads."""
    if path in (DPKG_STATUS, APK, *RPM_SQLITE, *RPM_UNREAD, *OS_RELEASE):
        return True
    if path.startswith(DPKG_DIR):
        return "." not in posixpath.basename(path)  # skip the .md5sums beside each entry
    if path.endswith("/package.json"):
        parts = path.split("/")
        return (len(parts) >= 3 and parts[-3] == "node_modules") or (
            len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@")
        )
    return bool(_PY_META.search(path))


def os_release(files: Mapping[str, bytes]) -> dict[str, str]:
    """The image's /etc/os-release (or /usr/lib/os-release) as a dict."""
    for path in OS_RELEASE:
        if path in files:
            out = {}
            for line in files[path].decode(errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip():
                    out[key.strip()] = value.strip().strip("\"'")
            return out
    return {}


def find_packages(files: Mapping[str, bytes]) -> tuple[list[Package], list[str]]:
    """Every package the databases in ``files`` list, and the databases that could not be read."""
    found: list[Package] = []
    not_read: list[str] = []
    for path, data in sorted(files.items()):
        if path == DPKG_STATUS or path.startswith(DPKG_DIR):
            found.extend(_dpkg(data))
        elif path == APK:
            found.extend(_apk(data))
        elif path in RPM_SQLITE:
            try:
                found.extend(Package("rpm", *row) for row in read_rpm_sqlite(data))
            except ValueError as exc:
                not_read.append(f"/{path} ({exc})")
        elif path in RPM_UNREAD:
            not_read.append(f"/{path} ({RPM_UNREAD[path]}: not read; a scanner such as trivy reads it)")
        elif path.endswith("/package.json"):
            found.extend(_npm(path, data))
        elif _PY_META.search(path):
            found.extend(_python(path, data))
    return found, not_read


def _paragraphs(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style stanzas (dpkg): ``Key: value``, continuation lines start with a space."""
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif line[0] in " \t":
            if key:
                fields[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    if fields:
        yield fields


def _dpkg(data: bytes) -> Iterator[Package]:
    for fields in _paragraphs(data.decode("utf-8", errors="replace")):
        status = fields.get("Status", "install ok installed").split()
        if not fields.get("Package") or not fields.get("Version") or status[-1:] != ["installed"]:
            continue
        yield Package("deb", fields["Package"], fields["Version"], arch=fields.get("Architecture"))


def _apk(data: bytes) -> Iterator[Package]:
    entry: dict[str, str] = {}
    for line in [*data.decode("utf-8", errors="replace").splitlines(), ""]:
        if not line.strip():
            if entry.get("P") and entry.get("V"):
                yield Package("apk", entry["P"], entry["V"], arch=entry.get("A"), license=entry.get("L"))
            entry = {}
        elif len(line) > 1 and line[1] == ":":
            entry.setdefault(line[0], line[2:].strip())


def _python(path: str, data: bytes) -> Iterator[Package]:
    headers: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            break  # the description body follows the headers
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            headers.setdefault(key.strip().lower(), value.strip())
    if headers.get("name") and headers.get("version"):
        license_ = headers.get("license-expression") or headers.get("license")
        yield Package(
            "pypi",
            headers["name"],
            headers["version"],
            license=license_[:100] if license_ and license_ != "UNKNOWN" else None,
            path="/" + posixpath.dirname(path),
        )


def _npm(path: str, data: bytes) -> Iterator[Package]:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return
    if not isinstance(manifest, dict):
        return
    name, version = manifest.get("name"), manifest.get("version")
    if isinstance(name, str) and isinstance(version, str) and name and version:
        license_ = manifest.get("license")
        if isinstance(license_, dict):
            license_ = license_.get("type")
        yield Package(
            "npm",
            name,
            version,
            license=license_[:100] if isinstance(license_, str) else None,
            path="/" + posixpath.dirname(path),
        )
