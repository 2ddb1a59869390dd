"""`make run ARGS=--keep-running` prints a block of `export` lines that is all the operator CLI
(and an app) needs to work against the local stack, Customer.io settings included."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from customerio_gcp_local.pipeline import print_keep_running
from customerio_gcp_local.stack import LocalStack
from customerio_gcp_ops.cli import cli
from customerio_sandbox import Sandbox, SandboxControl

NEEDED = {
    "GOOGLE_CLOUD_PROJECT",
    "PUBSUB_EMULATOR_HOST",
    "FIRESTORE_EMULATOR_HOST",
    "BIGQUERY_ENDPOINT",
    "CIO_TRACK_URL",
    "CIO_APP_URL",
    "CIO_SITE_ID",
    "CIO_TRACK_API_KEY",
    "CIO_APP_API_KEY",
    "CIO_WEBHOOK_SIGNING_KEY",
    "WEBHOOK_URL",
    "CUSTOMERIO_GCP_SUFFIX",
}


def exports(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            [found[key]] = shlex.split(value)
    return found


def printed(stack: LocalStack) -> str:
    out = io.StringIO()
    print_keep_running(stack, out)
    return out.getvalue()


def a_started_stack(sandbox: Sandbox, tmp_path: Path, suffix: str = "-t1") -> LocalStack:
    """What `print_keep_running` reads of a started stack (no emulators needed for that)."""
    stack = LocalStack(
        functions_dir=tmp_path,
        suffix=suffix,
        pubsub_host="127.0.0.1:8085",
        firestore_host="127.0.0.1:8086",
        bigquery_endpoint="http://127.0.0.1:9050",
        webhook_url="http://127.0.0.1:8093/",
    )
    stack.sandbox = sandbox
    return stack


def test_the_block_holds_every_setting_and_an_example(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        text = printed(a_started_stack(sandbox, tmp_path))
        settings = exports(text)
        assert set(settings) >= NEEDED
        assert settings["CIO_TRACK_URL"] == settings["CIO_APP_URL"] == sandbox.url
        assert settings["CIO_TRACK_API_KEY"] == sandbox.credentials.track_api_key
        assert settings["CIO_SITE_ID"] == sandbox.credentials.site_id
        assert settings["CIO_APP_API_KEY"] == sandbox.credentials.app_api_key
    assert settings["CUSTOMERIO_GCP_SUFFIX"] == "-t1"
    assert settings["IDENTIFY_HASH_COLLECTION"] == "customerio_identify_hashes-t1"
    assert "\n  customerio-gcp dlq list" in text


def test_no_suffix_no_suffix_line(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        settings = exports(printed(a_started_stack(sandbox, tmp_path, suffix="")))
    assert "CUSTOMERIO_GCP_SUFFIX" not in settings and "IDENTIFY_HASH_COLLECTION" not in settings


def test_the_block_is_valid_shell(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        text = printed(a_started_stack(sandbox, tmp_path))
    block = "\n".join(line for line in text.splitlines() if line.startswith("export "))
    shell = subprocess.run(
        ["bash", "-c", block + "\nenv"], env={}, capture_output=True, text=True, timeout=30, check=True
    )
    assert {line.partition("=")[0] for line in shell.stdout.splitlines()} >= NEEDED


def test_the_cli_syncs_users_with_nothing_but_the_printed_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key not in ("PATH", "HOME"):
            monkeypatch.delenv(key)
    users = tmp_path / "users.csv"
    users.write_text("id,email,plan\nu1,ada@example.com,pro\n")
    with Sandbox() as sandbox:
        settings = exports(printed(a_started_stack(sandbox, tmp_path)))
        # --no-skip-unchanged: no Firestore here (tests/e2e/test_operations.py syncs with it).
        result = CliRunner(env=settings).invoke(cli, ["sync", "users", str(users), "--no-skip-unchanged"])
        assert result.exit_code == 0, result.output
        assert SandboxControl(sandbox.url).person("u1")["attributes"]["plan"] == "pro"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.csv", "users.csv.checkpoint.json"]  # no rejects file
