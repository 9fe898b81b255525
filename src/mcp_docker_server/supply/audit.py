"""Image audit: what a built image gives away or gets wrong, ranked, each with its fix. Pure.

Reads only the image's recorded facts (config, labels, history), never its files: user,
healthcheck, secrets in the environment, labels and build history (build arguments are
recorded in the history of every RUN after them), risky exposed ports, the biggest layers,
the base image and the image's age. Secret values never appear: a finding names the place,
and any text shown has passed the project's redaction.
"""

from __future__ import annotations

import datetime

from mcp_docker_server.results.security import Finding, ImageFacts, ImageSummary, LayerRow, rank
from mcp_docker_server.results.shaping import (
    clean_text,
    human_size,
    mask_env,
    redact_secrets,
    short_id,
    truncate,
)

__all__ = ["audit_image", "biggest_layers", "summarize"]

_RISKY_PORTS = {
    "22": "SSH",
    "23": "telnet",
    "2375": "the Docker API without TLS",
    "2376": "the Docker API",
    "3389": "RDP",
    "5900": "VNC",
}
_BASE_LABELS = ("org.opencontainers.image.base.name", "org.opencontainers.image.base.digest")
_OLD_DAYS = 180
_BIG_IMAGE = 1_000_000_000


def audit_image(facts: ImageFacts, now: datetime.datetime) -> list[Finding]:
    """Every finding for the image, most severe first."""
    findings = [*_user(facts), *_secrets(facts), *_ports(facts), *_health(facts), *_age(facts, now)]
    if facts.size_bytes > _BIG_IMAGE:
        findings.append(
            Finding(
                rule="MCPA009",
                level="info",
                where="size",
                message=f"the image is {human_size(facts.size_bytes)}",
                fix="use a slimmer base or a multi-stage build that copies only what runs.",
            )
        )
    return rank(findings)


def summarize(facts: ImageFacts, now: datetime.datetime) -> ImageSummary:
    """Identity, base, age and size of the image."""
    created = _parse_time(facts.created)
    base = next((facts.labels[k] for k in _BASE_LABELS if facts.labels.get(k)), None)
    return ImageSummary(
        id=short_id(facts.id),
        tags=[clean_text(t) for t in facts.tags[:10]],
        digests=[clean_text(d) for d in facts.digests[:5]],
        base=truncate(clean_text(base), 200)[0] if base else _base_from_history(facts),
        created=facts.created[:19],
        age_days=(now - created).days if created else None,
        size_bytes=facts.size_bytes,
        user=clean_text(facts.user),
        layers=facts.layers,
    )


def biggest_layers(facts: ImageFacts, count: int = 5) -> list[LayerRow]:
    """The layers that weigh most, biggest first, with the instruction that made each."""
    rows = sorted((e for e in facts.history if e.size_bytes > 0), key=lambda e: e.size_bytes, reverse=True)
    return [
        LayerRow(size_bytes=e.size_bytes, size=human_size(e.size_bytes), created_by=_step(e.created_by, 140))
        for e in rows[:count]
    ]


def _user(facts: ImageFacts) -> list[Finding]:
    name = facts.user.split(":")[0].strip()
    if name not in ("", "0", "root"):
        return []
    return [
        Finding(
            rule="MCPA001",
            level="warning",
            where="config User",
            message="the image runs as root" + (" (no USER set)" if not facts.user else ""),
            fix="add `USER 10001` (a non-root uid) to the Dockerfile's final stage, or run with user=.",
        )
    ]


def _secrets(facts: ImageFacts) -> list[Finding]:
    findings = []
    for pair in facts.env:
        key, _, value = pair.partition("=")
        secret_name = mask_env([pair], show_values=True).get(key) == "***"
        if value and (secret_name or redact_secrets(value) != value):
            findings.append(
                Finding(
                    rule="MCPA002",
                    level="error",
                    where=f"env {truncate(clean_text(key), 80)[0]}",
                    message="a secret-looking value is baked into the image's environment",
                    fix="remove the ENV line and rotate the secret; pass it at run time instead.",
                )
            )
    for key, value in facts.labels.items():
        if redact_secrets(value) != value or redact_secrets(key) != key:
            findings.append(
                Finding(
                    rule="MCPA003",
                    level="error",
                    where=f"label {truncate(clean_text(key), 80)[0]}",
                    message="a label carries a secret-looking value",
                    fix="remove the LABEL and rotate the secret.",
                )
            )
    steps = len(facts.history)
    for index, entry in enumerate(facts.history):
        if redact_secrets(entry.created_by) != entry.created_by:
            findings.append(
                Finding(
                    rule="MCPA004",
                    level="error",
                    where=f"history step {steps - index}/{steps}: {_step(entry.created_by, 120)}",
                    message="the build history records a secret (a RUN line or a build argument)",
                    fix="rebuild without it (build args and RUN lines stay in the history) and rotate the "
                    "secret; use a secret mount or a runtime secret.",
                )
            )
    return findings


def _ports(facts: ImageFacts) -> list[Finding]:
    findings = []
    for port in facts.exposed_ports:
        number = port.split("/")[0]
        if number in _RISKY_PORTS:
            findings.append(
                Finding(
                    rule="MCPA005",
                    level="warning",
                    where=f"exposed port {clean_text(port)}",
                    message=f"the image exposes {_RISKY_PORTS[number]}",
                    fix="drop the EXPOSE and the service behind it; use `docker exec` for access.",
                )
            )
    return findings


def _health(facts: ImageFacts) -> list[Finding]:
    if facts.healthcheck and facts.healthcheck[0] != "NONE":
        return []
    return [
        Finding(
            rule="MCPA006",
            level="info",
            where="config Healthcheck",
            message="no healthcheck" + (" (disabled)" if facts.healthcheck else ""),
            fix="add HEALTHCHECK CMD <a quick probe> for long-running services (or pass healthcheck "
            "to run-container).",
        )
    ]


def _age(facts: ImageFacts, now: datetime.datetime) -> list[Finding]:
    created = _parse_time(facts.created)
    if created is None or (now - created).days < _OLD_DAYS:
        return []
    return [
        Finding(
            rule="MCPA007",
            level="warning",
            where="created",
            message=f"the image was built {(now - created).days} days ago; its packages miss every fix since",
            fix="rebuild on the current base image (with pull=true) and redeploy.",
        )
    ]


def _base_from_history(facts: ImageFacts) -> str | None:
    """The oldest step's instruction: 'ADD file:… in /' is a distribution's root filesystem."""
    if not facts.history:
        return None
    return "root filesystem: " + _step(facts.history[-1].created_by, 100)


def _step(created_by: str, limit: int) -> str:
    text = clean_text(created_by).replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ")
    return truncate(" ".join(text.split()), limit)[0]


def _parse_time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text[:19]).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
