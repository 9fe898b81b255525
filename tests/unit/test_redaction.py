"""The one redaction function (shaping.redact_secrets / redact_data), the exit point that applies
it to every tool result, and the audit log's argument shape. Pure."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import BaseModel

from mcp_docker_server.results.shaping import clean_text, redact_data, redact_secrets, secret_field
from mcp_docker_server.tools._output import compact_result
from mcp_docker_server.tools.audit import argument_shape

SECRET = "Zq8-not-a-real-secret-7Wd"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PEM = "-----BEGIN {kind}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END {kind}PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # Secrets inside JSON (and Python-repr) strings; the key and the quotes stay.
        (f'{{"password": "{SECRET}", "user": "bob"}}', '{"password": "[redacted]", "user": "bob"}'),
        (f'{{"token":"{SECRET}"}}', '{"token":"[redacted]"}'),
        (f"{{'api_key': '{SECRET}'}}", "{'api_key': '[redacted]'}"),
        (f'{{"db_password": "it\'s \\"{SECRET}\\""}}', '{"db_password": "[redacted]"}'),
        (f'{{"auth": "{SECRET}"}}', '{"auth": "[redacted]"}'),
        # Authorization, with or without the header's name.
        (f"Authorization: Bearer {SECRET}", "Authorization: Bearer [redacted]"),
        (f"authorization=Basic {SECRET}", "authorization=Basic [redacted]"),
        (f"curl -H 'Bearer {SECRET}' x", "curl -H 'Bearer [redacted]' x"),
        # Credentials in URLs: the user stays, the password goes.
        (f"https://robot:{SECRET}@registry.example/v2/", "https://robot:[redacted]@registry.example/v2/"),
        (f"postgres://app:{SECRET}@db:5432/app", "postgres://app:[redacted]@db:5432/app"),
        # Cloud keys: AWS, GCP, Azure.
        ("key AKIAIOSFODNN7EXAMPLE here", "key [redacted] here"),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [redacted]"),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS_SECRET_ACCESS_KEY=[redacted]"),
        (f'"SecretAccessKey": "{AWS_SECRET}"', '"SecretAccessKey": "[redacted]"'),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "[redacted]"),
        (
            '{"type": "service_account", "private_key_id": "0123abcd", "private_key": '
            + json.dumps(PEM.format(kind=""))
            + "}",
            '{"type": "service_account", "private_key_id": "[redacted]", "private_key": "[redacted]"}',
        ),
        (
            f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={SECRET}==;EndpointSuffix=x",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[redacted]",
        ),
        ("https://a.blob.core.windows.net/c?sv=2022&sig=abcdefghij0123456789%3D&se=1", None),
        # PEM private keys of every kind, up to their end.
        (PEM.format(kind="RSA ") + " then", "[redacted] then"),
        (PEM.format(kind="OPENSSH ") + "\nnext line", "[redacted]\nnext line"),
        (PEM.format(kind="ENCRYPTED ") + " x", "[redacted] x"),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nabc\n-----END PGP PRIVATE KEY BLOCK-----", "[redacted]"),
        # Flags and assignments, YAML included.
        (f"mount -o username=u,password={SECRET},vers=3.0", "mount -o username=u,password=[redacted]"),
        (f"app --password {SECRET} --user x", "app --password [redacted] --user x"),
        (f'password: "{SECRET} with spaces"', "password: [redacted]"),
        # Earlier kinds still caught.
        ("ghp_" + "a" * 36, "[redacted]"),
        ("SWMTKN-1-" + "a" * 50, "[redacted]"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            None,
        ),
    ],
)
def test_every_kind_of_secret_is_redacted(text: str, kept: str | None) -> None:
    redacted = redact_secrets(text)
    assert "[redacted]" in redacted
    assert SECRET not in redacted
    assert AWS_SECRET not in redacted
    assert "MIIEvQ" not in redacted
    if kept is not None:
        assert redacted == kept


@pytest.mark.parametrize(
    "text",
    [
        "no basic auth credentials",
        "Password:",
        "http://example.com:8080/path and user@host",
        '{"author": "Jane", "level": "info"}',
        "secret-looking values in ENV are reported",
        "GET /api/v1/users?id=42 200 OK latency_ms=12",
        "The bearer token is missing",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_secrets(text) == text


def test_clean_text_is_the_same_function_plus_control_stripping() -> None:
    assert clean_text(f"\x1b[31mAuthorization: Bearer {SECRET}\x1b[0m") == "Authorization: Bearer [redacted]"


def test_the_lookahead_names_every_first_character() -> None:
    """Case-insensitive keywords also match as long s and the Kelvin sign: the speed-up
    lookahead must not skip them (it lists two characters for each alternative)."""
    assert redact_secrets(f"\u017fecret={SECRET}") == "\u017fecret=[redacted]"
    assert redact_secrets(f"--TOKEN {SECRET}") == "--TOKEN [redacted]"
    assert redact_secrets(f"PRIVATE_KEY: {SECRET}") == "PRIVATE_KEY: [redacted]"


def test_redaction_is_idempotent() -> None:
    once = redact_secrets(f'password={SECRET} {{"token": "{SECRET}"}} Bearer {SECRET}x')
    assert redact_secrets(once) == once


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("db.password", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("SecretAccessKey", True),
        ("auth", True),
        ("identitytoken", True),
        ("password_policy", False),
        ("author", False),
        ("join_tokens", False),
        ("name", False),
    ],
)
def test_secret_field_names(name: str, secret: bool) -> None:
    assert secret_field(name) is secret


def test_redact_data_walks_everything_and_keeps_what_the_operator_shows() -> None:
    data = {
        "volume": {"options": {"type": "cifs", "o": f"addr=nas,username=u,password={SECRET}"}},
        "driver_opts": {"password": "short"},
        "labels": {"db.password": "x", "password_policy": "strict"},
        "cmd": ["sh", "-c", f"curl -H 'Authorization: Bearer {SECRET}' http://api"],
        "processes": [["1", "root", f"app --token {SECRET}"]],
        "join_tokens": {"worker": "SWMTKN-1-" + "b" * 50},
        "count": 3,
    }
    out = redact_data(data, keep={"join_tokens"})
    assert SECRET not in json.dumps(out)
    assert out["driver_opts"] == {"password": "[redacted]"}
    assert out["labels"] == {"db.password": "[redacted]", "password_policy": "strict"}
    assert out["join_tokens"] == data["join_tokens"]
    assert out["count"] == 3
    assert data["driver_opts"] == {"password": "short"}  # the input is not changed


class _Row(BaseModel):
    name: str
    command: str | None = None
    options: dict[str, str] = {}


class _Result(BaseModel):
    rows: list[_Row]
    note: str | None = None
    join_tokens: dict[str, str] | None = None


def test_compact_result_redacts_both_the_text_and_the_structured_content() -> None:
    result = _Result(
        rows=[_Row(name="v", command=f"run --password={SECRET}", options={"password": SECRET})],
        join_tokens={"worker": "SWMTKN-1-" + "c" * 50},
    )
    out = compact_result(result)
    text = out.content[0].text  # type: ignore[union-attr]
    assert SECRET not in text
    assert SECRET not in json.dumps(out.structured_content)
    # The text is still the compact JSON without nulls and defaults, and it parses.
    parsed = json.loads(text)
    assert "note" not in parsed
    assert parsed["rows"][0]["options"] == {"password": "[redacted]"}
    assert out.structured_content is not None
    assert out.structured_content["note"] is None
    assert parsed["join_tokens"]["worker"].startswith("SWMTKN-1-")


def test_audit_shape_never_holds_an_environment_or_secret_value() -> None:
    class Auth(BaseModel):
        username: str
        password: str

    shape = argument_shape(
        {
            "image": "app",
            "environment": {"DB_PASSWORD": SECRET, "MODE": "x"},
            "env": {"TOKEN": SECRET},
            "build_args": {"NPM_TOKEN": SECRET},
            "auth": Auth(username="u", password=SECRET),
            "options": {"type": "cifs", "o": f"password={SECRET}", "password": SECRET},
            "labels": {"api.token": SECRET},
            "command": f"run --token {SECRET}",
            "volumes": [{"secret": SECRET}],
            "ctx": object(),
        }
    )
    flat = json.dumps(shape)
    assert SECRET not in flat
    assert shape["environment"] == ["DB_PASSWORD", "MODE"]
    assert shape["env"] == ["TOKEN"]
    assert shape["auth"] == ["password", "username"]
    assert shape["options"]["password"] == "***"
    assert "ctx" not in shape
    assert re.search(r"password=\[redacted\]", shape["options"]["o"])
