"""The build context as `docker build` makes it, read on this machine (never the engine's).

``.dockerignore`` is read and matched the way the Docker CLI does (moby's ``ignorefile`` and
``patternmatcher``): a UTF-8 byte-order mark is dropped, ``#`` lines are comments, ``**``
spans folders, ``!`` re-includes, matching is case-sensitive, and the Dockerfile and the
``.dockerignore`` itself are always sent. Symbolic links are sent as links: never followed,
so nothing outside the context travels with it. The same walk gives the file list that is sent,
the preview a dry run shows, and the files that look like secrets: by name, folder, and the first
KiB of small files (keys named anything, service account JSON, AWS key pairs).
"""

from __future__ import annotations

import contextlib
import heapq
import io
import os
import posixpath
import re
import secrets
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mcp_docker_server.errors import InvalidArgument, PolicyDenied

__all__ = [
    "ContextPlan",
    "PatternMatcher",
    "holds_secret",
    "looks_secret",
    "plan_context",
    "read_dockerignore",
    "secret_files_refused",
    "write_context",
]

_BOM = "\ufeff"
# Files whose name says they hold a credential or a private key (matched on the base name).
_SECRET_NAMES = re.compile(
    r"""(
        \.env(\..+)?                                   # .env, .env.production
      | .+\.(key|p8|p12|pfx|pkcs12|jks|keystore|bks|ppk|kdbx|tfstate|tfstate\.backup)
      | id_(rsa|dsa|ecdsa|ed25519|ecdsa_sk|ed25519_sk)([._-].*)?   # SSH keys, id_rsa.old too (.pub is public)
      | .+[_-](key|privkey|private)                    # deploy_key, signing-key, host_private
      | \.netrc | \.git-credentials | \.pgpass | \.pypirc | \.vault-token | \.htpasswd
      | (client_)?secrets?(\.(txt|json|ya?ml|env|toml|ini|conf|cfg|properties))? | .+\.secret
      | credentials | .*credentials?([._-].*)?\.(json|ya?ml|toml|ini|conf|cfg|env|txt|csv)
      | .*(service[-_]?account|sa[-_]key|client[-_]secret).*\.json
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# Harmless templates of the above (they document variables, they hold no values), and public
# halves of key pairs (id_rsa.pub, public_key.pem).
_TEMPLATES = re.compile(r".*(\.(example|sample|template|dist|tmpl|pub)|public[_-]?key.*)$", re.IGNORECASE)
# Files that are secrets by the folder they are in.
_SECRET_PATHS = (
    ".aws/credentials", ".aws/config", ".docker/config.json", ".kube/config", ".config/gcloud",
    ".azure", ".ssh", ".gnupg", ".config/gh/hosts.yml",
)  # fmt: skip
# Package manager files that are secrets only when they carry a token.
_TOKEN_FILES = {".npmrc", ".yarnrc", ".yarnrc.yml", "pip.conf", ".pip.conf", "settings.xml"}
_TOKEN = re.compile(rb"(_authToken|_auth\s*=|_password|npmAuthToken|<password>|://[^/\s:@]+:[^/\s@]+@)")
# PEM files hold certificates (public, often bundled on purpose) or private keys.
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# What makes a file a secret whatever its name, in its first bytes. (shaping's redaction
# patterns do not fit: they work on text and redact any `password=` assignment, which as a test
# of a file would refuse every configuration template.)
_SECRET_CONTENT = re.compile(
    rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"  # PEM PKCS#1/#8, OpenSSH, encrypted, PGP
    rb"|PuTTY-User-Key-File-\d"
    # AWS: a secret access key under its name, or a key id followed by its 40-character secret
    # (the console's credentials CSV).
    rb"|(?i:secret_?access_?key)[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
    rb"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b[^\n]{0,100}?(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
    # A kubeconfig's client key, a registry login in a Docker config, forge tokens.
    rb"|client-key-data:\s*[A-Za-z0-9+/=]{16}"
    rb"|\"auths\"\s*:\s*\{[\s\S]*\"auth\"\s*:\s*\"[A-Za-z0-9+/=]{8}"
    rb"|\bgh[pousr]_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{60,}|\bglpat-[A-Za-z0-9_-]{20}"
)
# GCP credential files are JSON with a type and, in any order, the secret that goes with it: a
# service account key, or the user credentials gcloud writes for applications.
_GCP_TYPE = re.compile(rb'"type"\s*:\s*"(service_account|authorized_user)"')
_GCP_SECRET = re.compile(rb'"(private_key|refresh_token)"\s*:\s*"[^"]')
# Content is read only from small files (keys and credential files are a few KiB), their first
# bytes, and from so many files at most: a big context is not read twice over.
_SCAN_BYTES = 8 * 1024
_SCAN_MAX_SIZE = 1024 * 1024
_SCAN_MAX_FILES = 4096
# Files that are code, documents or media: a key in one of these is not what this looks for
# (examples in docs and bundled test fixtures would refuse builds for nothing).
_NOT_SCANNED = re.compile(
    r".*\.(py|pyc|pyi|js|mjs|cjs|ts|tsx|jsx|map|css|scss|less|html?|vue|svelte|go|rs|java|class|kt|"
    r"scala|c|h|cc|cpp|hpp|cs|rb|php|swift|sh|md|rst|adoc|lock|sum|svg|png|jpe?g|gif|ico|webp|bmp|"
    r"woff2?|ttf|otf|eot|wasm|so|o|a|dll|exe|zip|gz|tgz|bz2|xz|zst|tar|jar|whl|pdf|mp[34]|mov)$",
    re.IGNORECASE,
)


def read_dockerignore(text: str) -> list[str]:
    """Patterns of a ``.dockerignore`` as the Docker CLI reads them.

    The byte-order mark is dropped from the first line; a line starting with ``#`` is a
    comment; patterns are trimmed and cleaned (``..``, ``.``, doubled slashes); a leading ``/``
    is dropped; ``!`` keeps its meaning, with any space after it removed.
    """
    patterns: list[str] = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.removeprefix(_BOM) if number == 0 else raw
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(f"!{line}" if invert else line)
    return patterns


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


class PatternMatcher:
    """moby's patternmatcher: the last pattern that matches a path or one of its parents wins."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:]
            text = posixpath.normpath(text) if text else text
            if not text:
                continue
            try:
                regex = re.compile(_translate(text))
            except re.error as exc:
                raise InvalidArgument(
                    f".dockerignore pattern {raw!r} is not valid ({exc})", hint="fix or remove that line."
                ) from exc
            self.patterns.append(_Pattern(text, exclusion, regex))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is excluded."""
        parents = path.split("/")[:-1]
        prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # an include that already matched, or an exclusion with nothing to undo
            if pattern.regex.match(path) or any(pattern.regex.match(p) for p in prefixes):
                matched = not pattern.exclusion
        return matched

    def may_reinclude_under(self, folder: str) -> bool:
        """Whether an exclusion pattern could re-include something under an excluded folder
        (moby's test, kept as it is: a folder it rules out is not walked)."""
        prefix = folder + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def _translate(pattern: str) -> str:
    """A pattern as a regular expression, the way moby's patternmatcher compiles it."""
    out = "^"
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "\\":
            if i < len(pattern):
                out += re.escape(pattern[i])
                i += 1
            else:
                out += "\\\\"
        elif char in "[]":
            out += char
        else:
            out += re.escape(char)
    return out + "$"


def looks_secret(relative: str, full: Path | None = None) -> bool:
    """Whether a context file looks like a credential or a private key, by its name or folder
    (PEM files only when ``full`` holds a private key, package manager files only when it holds
    a token)."""
    name = relative.rsplit("/", 1)[-1]
    if _TEMPLATES.match(name):
        return False
    if _SECRET_NAMES.fullmatch(name):
        return True
    lowered = "/" + relative.lower()
    if any(f"/{p}/" in lowered + "/" for p in _SECRET_PATHS):
        return not name.endswith(".pub") and name not in ("known_hosts", "authorized_keys")
    lowered_name = name.lower()
    if lowered_name.endswith((".pem", ".crt")):
        return full is None or _holds(full, _PRIVATE_KEY)
    if lowered_name in _TOKEN_FILES and full is not None:
        return _holds(full, _TOKEN)
    return False


def _holds(full: Path, pattern: re.Pattern[bytes]) -> bool:
    """Whether the start of a file (never through a link) matches ``pattern``."""
    return bool(pattern.search(_start_of(full, 256 * 1024)))


def holds_secret(full: Path) -> bool:
    """Whether the first KiB of a file (never read through a link) hold a private key (PEM,
    OpenSSH, PGP, PuTTY), a GCP service account key or application credentials, an AWS secret
    access key, a kubeconfig client key, a registry login or a forge token."""
    start = _start_of(full, _SCAN_BYTES)
    if _SECRET_CONTENT.search(start):
        return True
    return bool(_GCP_TYPE.search(start) and _GCP_SECRET.search(start))


def _start_of(full: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of a regular file; nothing for a link (not
    followed), a FIFO or device swapped in since the walk (never blocked on), or an error."""
    with contextlib.suppress(OSError):
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return handle.read(limit)
    return b""


@dataclass(frozen=True)
class ContextPlan:
    """What a build will send: every entry (files, folders, links) relative to ``root``, in
    order, and what a preview shows of it."""

    root: Path
    dockerfile: Path
    dockerfile_in_tar: str
    dockerfile_outside: bool
    patterns: tuple[str, ...]
    entries: tuple[str, ...]
    files: int
    links: int
    total_bytes: int
    largest: tuple[tuple[str, int], ...]
    by_folder: tuple[tuple[str, int], ...]
    secrets: tuple[str, ...]


def plan_context(root: Path, dockerfile: Path, *, buildkit: bool = False) -> ContextPlan:
    """Walk ``root`` as `docker build` would, honouring its ``.dockerignore``; for a BuildKit
    build, a Dockerfile-specific ignore file (``<Dockerfile>.dockerignore`` beside it) takes its
    place when there is one, as BuildKit's Dockerfile frontend does.

    ``root`` and ``dockerfile`` are resolved real paths (the host path rule passed them).
    """
    specific = _read_beside(dockerfile, dockerfile.name + ".dockerignore") if buildkit else None
    patterns = read_dockerignore(specific if specific is not None else _read_inside(root, ".dockerignore"))
    relative = os.path.relpath(dockerfile, root)
    outside = relative == ".." or relative.startswith("../")
    in_tar = f".dockerfile.{secrets.token_hex(10)}" if outside else relative
    # The CLI always sends these two: the daemon reads them.
    matcher = PatternMatcher([*patterns, "!.dockerignore", *([] if outside else [f"!{relative}"])])
    entries: list[str] = []
    sizes: list[tuple[int, str]] = []
    by_folder: dict[str, int] = {}
    secret_files: list[str] = []
    links = 0
    scans = _SCAN_MAX_FILES
    for rel, info in _walk(root, matcher):
        entries.append(rel)
        if stat.S_ISLNK(info.st_mode):
            links += 1
        elif stat.S_ISREG(info.st_mode):
            sizes.append((info.st_size, rel))
            top = rel.split("/", 1)[0]
            by_folder[top] = by_folder.get(top, 0) + info.st_size
            if looks_secret(rel, root / rel):
                secret_files.append(rel)
            elif scans and _worth_reading(rel, info):
                scans -= 1
                if holds_secret(root / rel):
                    secret_files.append(rel)
    return ContextPlan(
        root=root,
        dockerfile=dockerfile,
        dockerfile_in_tar=in_tar,
        dockerfile_outside=outside,
        patterns=tuple(patterns),
        entries=tuple(entries),
        files=len(sizes),
        links=links,
        total_bytes=sum(size for size, _ in sizes),
        largest=tuple((rel, size) for size, rel in heapq.nlargest(5, sizes)),
        by_folder=tuple(sorted(by_folder.items(), key=lambda kv: kv[1], reverse=True)[:3]),
        secrets=tuple(secret_files),
    )


def _worth_reading(relative: str, info: os.stat_result) -> bool:
    """Whether a file's content is read for secrets: small, and not code, a document or media."""
    return 0 < info.st_size <= _SCAN_MAX_SIZE and not _NOT_SCANNED.match(relative.rsplit("/", 1)[-1])


def secret_files_refused(plan: ContextPlan) -> PolicyDenied:
    """The refusal of a build whose context would send files that look like secrets."""
    shown = ", ".join(plan.secrets[:10])
    if len(plan.secrets) > 10:
        shown += f" and {len(plan.secrets) - 10} more"
    return PolicyDenied(
        "secret-files",
        f"the build context {plan.root} would send files that look like secrets ({shown}), "
        "and whatever is sent can end up in the image",
        hint=f"list them in {plan.root}/.dockerignore, one pattern per line (for example "
        f"{', '.join(plan.secrets[:3])}), or repeat the call with allow_secret_files set to true "
        "if the image really needs them; dry_run shows what the context holds.",
    )


def _read_inside(root: Path, name: str) -> str:
    """A file of the context, read only when it (or what a link there leads to) is inside the
    context: its lines are shown in a preview, so a link to /etc/shadow must not be read."""
    file = (root / name).resolve()
    if not file.is_relative_to(root) or not file.is_file():
        return ""
    return file.read_bytes()[: 4 * 1024 * 1024].decode("utf-8", errors="replace")


def _read_beside(dockerfile: Path, name: str) -> str | None:
    """A Dockerfile-specific ignore file beside the Dockerfile (None when there is none). Read
    only when it is a file in that same folder: the host path rule passed that folder."""
    file = (dockerfile.parent / name).resolve()
    if file.parent != dockerfile.parent or not file.is_file():
        return None
    return file.read_bytes()[: 4 * 1024 * 1024].decode("utf-8", errors="replace")


def _walk(root: Path, matcher: PatternMatcher) -> list[tuple[str, os.stat_result]]:
    """Entries not excluded, sorted, without following a single symbolic link."""
    found: list[tuple[str, os.stat_result]] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        with os.scandir(root / folder if folder else root) as listing:
            children = sorted(listing, key=lambda e: e.name)
        for child in children:
            rel = f"{folder}/{child.name}" if folder else child.name
            info = child.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(info.st_mode)
            if matcher.matches(rel):
                if is_dir and matcher.exclusions and matcher.may_reinclude_under(rel):
                    pending.append(rel)
                continue
            found.append((rel, info))
            if is_dir:
                pending.append(rel)
    found.sort(key=lambda pair: pair[0])
    return found


def write_context(plan: ContextPlan) -> IO[bytes]:
    """The context tar, in a temporary file (rewound). Links are stored as links; a file that
    turned into a link (or anything else) since the walk is stored as what it is now, never
    read through."""
    out = tempfile.NamedTemporaryFile()  # noqa: SIM115  # the caller streams and closes it
    with tarfile.open(mode="w", fileobj=out) as tar:
        for rel in plan.entries:
            if not (plan.dockerfile_outside and rel == ".dockerignore"):
                _add(tar, plan.root, rel)
        if plan.dockerfile_outside:
            # As the CLI does: the Dockerfile travels under a generated name, and a
            # .dockerignore naming it keeps it out of the image's COPY . (the daemon reads it).
            _add_bytes(tar, plan.dockerfile_in_tar, plan.dockerfile.read_bytes())
            ignore = "\n".join([*plan.patterns, plan.dockerfile_in_tar, ".dockerignore"]) + "\n"
            _add_bytes(tar, ".dockerignore", ignore.encode())
    out.seek(0)
    return out


def _add(tar: tarfile.TarFile, root: Path, rel: str) -> None:
    full = root / rel
    try:
        before = os.lstat(full)
    except OSError:
        return  # gone since the walk
    if not stat.S_ISREG(before.st_mode):
        info = tar.gettarinfo(str(full), arcname=rel)  # lstat: a link is stored as a link
        if info is not None:  # None: a socket, which the CLI skips too
            info.mtime = int(info.mtime)
            tar.addfile(info)
        return
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return  # turned into a link (or vanished) since the walk: not read through
    with os.fdopen(fd, "rb") as handle:
        if not _opened_inside(handle.fileno(), before, str(full)):
            return
        info = tar.gettarinfo(arcname=rel, fileobj=handle)
        info.mtime = int(info.mtime)
        tar.addfile(info, handle)


def _opened_inside(fd: int, before: os.stat_result, expected: str) -> bool:
    """Whether the open file is the one the walk saw, at the path it saw (a folder swapped for
    a link in between would lead elsewhere)."""
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
        return False
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == expected
    except OSError:  # no /proc: the resolved path tells the same, a moment later
        return os.path.realpath(expected) == expected


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
