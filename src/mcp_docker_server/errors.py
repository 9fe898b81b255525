"""The project's exception tree.

Every failure a tool can report is one of these; the tools layer turns them into readable
``isError`` results (what failed, why, what to do next).

    DockerServerError            .message for the model, .hint: the next step
    ├── ConfigError              bad settings; start-up only, exit code 2
    ├── EngineError
    │   ├── EngineUnavailable    cannot reach the engine (socket, TCP, TLS, SSH), or it timed out
    │   ├── NotFound             .kind, .ref
    │   ├── Conflict             409: name in use, container running...
    │   └── EngineAPIError       any other engine refusal, with the daemon's explanation
    ├── ProcessError             a process could not start or did not finish in time
    │   └── ComposeError         Compose failed or is missing: argv, exit code, stderr tail
    ├── PolicyDenied             .rule that matched
    └── InvalidArgument          semantic checks beyond the JSON schema
"""

from __future__ import annotations

__all__ = [
    "ComposeError",
    "ConfigError",
    "Conflict",
    "DockerServerError",
    "EngineAPIError",
    "EngineError",
    "EngineUnavailable",
    "InvalidArgument",
    "NotFound",
    "PolicyDenied",
    "ProcessError",
]


class DockerServerError(Exception):
    """Base of every error this server reports; ``str()`` is the model-facing text."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} Next: {self.hint}"
        return self.message


class ConfigError(DockerServerError):
    """A setting is missing, contradictory or unreadable; the server refuses to start."""

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        super().__init__(f"{setting}: {problem}", hint=fix)
        self.setting = setting


class EngineError(DockerServerError):
    """The Docker engine refused or failed a request."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached (down, wrong address, TLS/SSH failure) or did not answer in time."""


class NotFound(EngineError):
    """A container, image, network or volume does not exist."""

    def __init__(self, kind: str, ref: str, detail: str | None = None, *, hint: str | None = None):
        text = f"No such {kind}: {ref}"
        super().__init__(text, hint=hint or _default_not_found_hint(kind))
        self.kind = kind
        self.ref = ref
        self.detail = detail


class Conflict(EngineError):
    """The request conflicts with the engine's current state (HTTP 409)."""


class EngineAPIError(EngineError):
    """Any other engine error; keeps the daemon's own explanation."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class ProcessError(DockerServerError):
    """A process (Compose, the docker CLI, a scanner or linter) could not start or did not
    finish within its deadline."""


class ComposeError(ProcessError):
    """Docker Compose is missing, or a compose command failed."""


class PolicyDenied(DockerServerError):
    """The operator's policy forbids the request."""

    def __init__(
        self, rule: str, reason: str, *, hint: str | None = None, setting: str | None = None
    ) -> None:
        text = f"Denied by policy rule '{rule}': {reason}."
        if setting:
            # Said to the model so it can tell the user; only the operator can change it.
            text += f" Only the operator can allow this ({setting} in the policy file)."
        super().__init__(text, hint=hint)
        self.rule = rule
        self.reason = reason
        self.setting = setting


class InvalidArgument(DockerServerError):
    """An argument passed the schema but makes no sense (bad reference, port, path...)."""


def _default_not_found_hint(kind: str) -> str:
    listing = {
        "container": "list-containers (with all=true) shows the containers that exist.",
        "image": "image-operations with action=list shows local images; pull it first.",
        "service": "service-management action=list shows the services.",
        "node": "swarm-management action=nodes lists the nodes.",
    }
    return listing.get(kind, f"check the {kind} name or id.")
