"""`--help` works on every command and group of `customerio-gcp` in an empty environment; a
command that runs without a project says how to give one (exit code 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from customerio_gcp_ops.cli import cli


def command_paths(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from command_paths(sub, (*path, name))


EVERY_COMMAND = list(command_paths(cli))


@pytest.fixture
def empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        monkeypatch.delenv(key)


def test_the_tree_is_walked() -> None:
    # A guard for the walk itself: every command the operator guide names is in it.
    assert {("dlq", "list"), ("dlq", "show"), ("dlq", "replay"), ("dlq", "purge"), ("sync", "users"), ("status",)} <= (
        set(EVERY_COMMAND)
    )


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda p: " ".join(p) or "customerio-gcp")
def test_help_works_without_a_project(path: tuple[str, ...], empty_environment: None) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(('cli', *path))}")
    assert "Error:" not in result.output and "error:" not in result.output


def test_the_installed_command_answers_help_with_nothing_set() -> None:
    script = Path(sys.executable).with_name("customerio-gcp")
    result = subprocess.run(
        [str(script), "dlq", "list", "--help"], env={}, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Dead letters grouped by reason" in result.stdout
    assert result.stderr == ""


RUNNABLE = [("dlq", "list"), ("dlq", "show"), ("dlq", "replay", "--dry-run"), ("dlq", "purge", "--yes"), ("status",)]


@pytest.mark.parametrize("args", RUNNABLE, ids=" ".join)
def test_a_command_that_runs_without_a_project_says_how_to_give_one(
    args: tuple[str, ...], empty_environment: None
) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("customerio-gcp: error: no Google Cloud project given — ")
    assert "--project" in result.stderr and "GOOGLE_CLOUD_PROJECT" in result.stderr


def test_sync_through_pubsub_needs_a_project_too(empty_environment: None, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("id,email\nu1,ada@example.com\n")
    result = CliRunner().invoke(cli, ["sync", "users", str(users), "--via", "pubsub"])
    assert result.exit_code == 2
    assert result.stderr.startswith("customerio-gcp: error: no Google Cloud project given — ")
    assert [p.name for p in tmp_path.iterdir()] == ["users.csv"]  # nothing was started
