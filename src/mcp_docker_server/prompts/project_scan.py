"""What a project folder is made of, for the containerize prompt: a bounded listing, the key
build files (cleaned and capped; ``.env`` files are named, never read), the stack they point to,
and a Dockerfile and compose file to start from.

With BuildKit (buildx installed), the Dockerfile keeps package-manager downloads in cache
mounts; for the classic builder it keeps to what that builder understands: no ``RUN --mount``,
``COPY --chmod/--link`` or heredocs. Never a ``# syntax=`` line: the engine's built-in frontend
needs no registry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mcp_docker_server.results import shaping

__all__ = ["ProjectScan", "scan_project"]

MAX_ENTRIES = 80
MAX_FILE_BYTES = 3000
KEY_FILES = (
    "package.json", "pyproject.toml", "requirements.txt", "setup.py", "go.mod", "Cargo.toml", "Gemfile",
    "pom.xml", "build.gradle", "composer.json", "Dockerfile", "compose.yaml", "compose.yml",
    "docker-compose.yml", "docker-compose.yaml", ".dockerignore", "Procfile",
)  # fmt: skip
SKIP_DIRS = frozenset(
    {".git", "node_modules", "__pycache__", ".venv", "venv", "target", "dist", "build", ".tox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".next", "vendor", ".idea", ".vscode"}
)  # fmt: skip
_SECRET_FILE = re.compile(r"^\.env(\..*)?$|\.(pem|key|p12|pfx)$|^id_(rsa|ed25519|ecdsa)", re.IGNORECASE)


@dataclass
class ProjectScan:
    """The folder as the prompt shows it."""

    path: str
    listing: list[str] = field(default_factory=list)
    listing_truncated: bool = False
    files: dict[str, str] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)
    stack: str = "unknown"
    port: int = 8080
    dockerfile: str = ""
    compose: str = ""
    buildkit: bool = False


def scan_project(path: str, *, buildkit: bool = False) -> ProjectScan:
    """Scan ``path`` (an existing folder; the caller checked the policy); ``buildkit``: the
    proposed Dockerfile may use BuildKit's cache mounts."""
    root = Path(path).resolve()
    scan = ProjectScan(path=str(root), buildkit=buildkit)
    _list(root, scan)
    for name in KEY_FILES:
        file = root / name
        # Defense in depth: a key file that is a link out of the folder is not read.
        if file.is_file() and file.resolve().parent == root:
            with file.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
            text, cut = shaping.truncate(shaping.clean_text(raw.decode("utf-8", "replace")), MAX_FILE_BYTES)
            scan.files[name] = text + ("\n[cut]" if cut or len(raw) > MAX_FILE_BYTES else "")
    _propose(root, scan)
    return scan


def _list(root: Path, scan: ProjectScan) -> None:
    """Two levels deep, folders first, generated and dependency folders skipped."""
    for top in sorted(root.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
        if len(scan.listing) >= MAX_ENTRIES:
            scan.listing_truncated = True
            return
        name = shaping.clean_text(top.name)
        if _SECRET_FILE.search(top.name):
            scan.unread.append(name)
        if top.is_symlink():
            scan.listing.append(f"{name}@ (link, not followed)")
        elif top.is_dir():
            if top.name in SKIP_DIRS:
                scan.listing.append(f"{name}/ (skipped)")
                continue
            try:
                children = sorted(c.name for c in top.iterdir())
            except OSError:
                children = []
            shown = ", ".join(shaping.clean_text(c) for c in children[:12])
            more = f", +{len(children) - 12} more" if len(children) > 12 else ""
            scan.listing.append(f"{name}/: {shown}{more}")
        else:
            scan.listing.append(name)


def _cache(scan: ProjectScan, *targets: str) -> str:
    """BuildKit cache mounts for a RUN (downloads kept between builds, out of the image)."""
    return "".join(f"--mount=type=cache,target={t} " for t in targets) if scan.buildkit else ""


def _propose(root: Path, scan: ProjectScan) -> None:
    if "package.json" in scan.files:
        scan.stack, scan.port = "node", 3000
        start = _node_start(root / "package.json")
        scan.dockerfile = (
            "FROM node:20-alpine\nWORKDIR /app\nCOPY package*.json ./\n"
            f"RUN {_cache(scan, '/root/.npm')}npm ci --omit=dev || npm install --omit=dev\n"
            "COPY . .\nENV NODE_ENV=production PORT=3000\n"
            f"USER node\nEXPOSE 3000\nCMD {json.dumps(start)}\n"
        )
    elif {"pyproject.toml", "requirements.txt", "setup.py"} & set(scan.files):
        scan.stack, scan.port = "python", 8000
        pip = f"RUN {_cache(scan, '/root/.cache/pip')}pip install" + (
            "" if scan.buildkit else " --no-cache-dir"
        )
        install = (
            f"COPY requirements.txt .\n{pip} -r requirements.txt\nCOPY . .\n"
            if "requirements.txt" in scan.files
            else f"COPY . .\n{pip} .\n"
        )
        entry = next((f for f in ("main.py", "app.py", "manage.py") if (root / f).is_file()), "main.py")
        scan.dockerfile = (
            "FROM python:3.12-slim\nWORKDIR /app\nENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n"
            f"{install}RUN useradd --create-home app\nUSER app\nEXPOSE 8000\n"
            f'CMD ["python", "{entry}"]\n'
        )
    elif "go.mod" in scan.files:
        scan.stack, scan.port = "go", 8080
        scan.dockerfile = (
            f"FROM golang:1.22-alpine AS build\nWORKDIR /src\nCOPY go.* ./\nRUN {_cache(scan, '/go/pkg/mod')}"
            "go mod download\nCOPY . .\n"
            f"RUN {_cache(scan, '/go/pkg/mod', '/root/.cache/go-build')}"
            "CGO_ENABLED=0 go build -o /out/app .\n\n"
            "FROM gcr.io/distroless/static-debian12:nonroot\n"
            'COPY --from=build /out/app /app\nEXPOSE 8080\nENTRYPOINT ["/app"]\n'
        )
    elif "Cargo.toml" in scan.files:
        scan.stack, scan.port = "rust", 8080
        scan.dockerfile = (
            "FROM rust:1-slim AS build\nWORKDIR /src\nCOPY . .\n"
            f"RUN {_cache(scan, '/usr/local/cargo/registry')}cargo build --release\n\n"
            "FROM debian:bookworm-slim\nCOPY --from=build /src/target/release/ /app/\nUSER nobody\n"
            'EXPOSE 8080\nCMD ["/app/CHANGE-ME"]\n'
        )
    else:
        scan.dockerfile = (
            'FROM debian:bookworm-slim\nWORKDIR /app\nCOPY . .\nUSER nobody\nCMD ["./CHANGE-ME"]\n'
        )
    name = re.sub(r"[^a-z0-9_-]", "-", root.name.lower()).strip("-") or "app"
    scan.compose = (
        f"services:\n  {name}:\n    build: .\n    image: {name}:dev\n"
        f'    ports:\n      - "127.0.0.1:{scan.port}:{scan.port}"\n    restart: unless-stopped\n'
        + _develop_watch(scan.stack)
    )


_MANIFESTS = {"node": "package.json", "python": "requirements.txt", "go": "go.mod", "rust": "Cargo.toml"}


def _develop_watch(stack: str) -> str:
    """Compose's hot reload for the stack: interpreted code synced into the container, the
    manifest (and, for compiled code, the sources) rebuilding the image."""
    manifest = _MANIFESTS.get(stack)
    if manifest is None:
        return ""
    if stack in ("node", "python"):
        ignore = "node_modules/" if stack == "node" else ".venv/"
        sync = (
            "        - action: sync\n          path: .\n          target: /app\n"
            f"          ignore: [{ignore}]\n"
        )
    else:
        sync = "        - action: rebuild\n          path: .\n"
    return f"    develop:\n      watch:\n{sync}        - action: rebuild\n          path: {manifest}\n"


def _node_start(package: Path) -> list[str]:
    try:
        data = json.loads(package.read_text(encoding="utf-8", errors="replace")[: MAX_FILE_BYTES * 10])
    except (OSError, ValueError):
        return ["node", "index.js"]
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if isinstance(scripts, dict) and "start" in scripts:
        return ["npm", "start"]
    main = data.get("main") if isinstance(data, dict) else None
    return ["node", main if isinstance(main, str) and main else "index.js"]
