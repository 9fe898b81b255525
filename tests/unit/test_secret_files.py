"""Secret files in a build context: recognised by name, and by the first KiB of small files
whatever their name (read without following links, a bounded number of them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcp_docker_server.engine import build_context
from mcp_docker_server.engine.build_context import holds_secret, looks_secret, plan_context

OPENSSH = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
SERVICE_ACCOUNT = (
    '{\n  "type": "service_account",\n  "project_id": "p",\n  "private_key_id": "abc",\n'
    '  "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n",\n'
    '  "client_email": "sa@p.iam.gserviceaccount.com"\n}\n'
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # 40 characters, AWS's documented example


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("id_ed25519_backup", True),
        ("id_rsa.old", True),
        ("id_ecdsa-2024", True),
        ("id_ed25519_backup.pub", False),
        ("deploy_key", True),
        ("keys/signing-key", True),
        ("public_key", False),
        ("certs/client.p12", True),
        ("release.keystore", True),
        ("AuthKey_ABC123.p8", True),
        ("credentials", True),
        ("gcp-credentials.json", True),
        ("application_default_credentials.json", True),
        ("my-serviceaccount.json", True),
        ("ci-sa-key.json", True),
        ("credentials.md", False),
        ("src/credentials.py", False),
        ("monkey", False),
        ("package.json", False),
    ],
)
def test_key_and_credential_files_are_recognised_by_name(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


@pytest.mark.parametrize(
    "text",
    [
        OPENSSH,
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQdG\n",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
        "notes\n" * 50 + "-----BEGIN EC PRIVATE KEY-----\nMHcC\n",
        SERVICE_ACCOUNT,
        # The same fields in the other order.
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE", "type": "service_account"}',
        '{"client_id": "x", "refresh_token": "1//0abc", "type": "authorized_user"}',
        f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {AWS_SECRET}\n",
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n",
        f'{{"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "{AWS_SECRET}"}}',
        f"Access key ID,Secret access key\nAKIAIOSFODNN7EXAMPLE,{AWS_SECRET}\n",
        "users:\n- name: admin\n  user:\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVk=\n",
        '{"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNzd29yZA=="}}}',
        "token: ghp_" + "a" * 36 + "\n",
    ],
)
def test_secrets_are_recognised_by_content(tmp_path: Path, text: str) -> None:
    file = tmp_path / "anything.txt"
    file.write_text(text)
    assert holds_secret(file)


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n",
        '{"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com"}',
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\nregion = eu-west-1\n",
        "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}\npassword: changeme\n",
        '{"name": "app", "version": "1.0.0", "dependencies": {}}',
        "commit 3f786850e387550fdab836ed7e6dc881de23001b\n",
    ],
)
def test_ordinary_files_are_not_secrets(tmp_path: Path, text: str) -> None:
    file = tmp_path / "anything.txt"
    file.write_text(text)
    assert not holds_secret(file)


def test_a_link_is_never_read_through(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text(OPENSSH)
    (tmp_path / "link").symlink_to(tmp_path / "key.txt")
    assert not holds_secret(tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")  # never blocked on
    assert not holds_secret(tmp_path / "fifo")


def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "keys").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (root / "app.txt").write_text("hello\n")
    return root


def test_the_plan_names_secrets_found_by_content(tmp_path: Path) -> None:
    root = context(tmp_path)
    (root / "keys" / "prod-signing.txt").write_text(OPENSSH)
    (root / "sa.json").write_text(SERVICE_ACCOUNT)
    (root / "docs.md").write_text("An example:\n" + OPENSSH)  # documents are not read
    assert plan_context(root, root / "Dockerfile").secrets == ("keys/prod-signing.txt", "sa.json")
    (root / ".dockerignore").write_text("keys\nsa.json\n")
    assert plan_context(root, root / "Dockerfile").secrets == ()


def test_content_is_read_from_small_files_only_and_from_so_many_at_most(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = context(tmp_path)
    (root / "big.bin").write_bytes(OPENSSH.encode() + b"\0" * (build_context._SCAN_MAX_SIZE + 1))
    assert plan_context(root, root / "Dockerfile").secrets == ()
    (root / "z-key.txt").write_text(OPENSSH)
    read: list[Path] = []
    real = build_context.holds_secret

    def counted(full: Path) -> bool:
        read.append(full)
        return real(full)

    monkeypatch.setattr(build_context, "holds_secret", counted)
    monkeypatch.setattr(build_context, "_SCAN_MAX_FILES", 2)
    # Dockerfile and app.txt use the budget up (big.bin is too big to count): z-key.txt is not read.
    assert plan_context(root, root / "Dockerfile").secrets == ()
    assert [p.name for p in read] == ["Dockerfile", "app.txt"]
