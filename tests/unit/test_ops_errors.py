"""Every expected failure of `customerio-gcp` is one line on stderr — what is wrong and how to fix
it — with a non-zero exit code; never a traceback, never a value from the user's data.

Real parts wherever there are some: the Customer.io sandbox (a wrong key, a 403, another region),
closed ports for unreachable emulators and services, files on disk, a SQLite database.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from customerio_gcp_ops import errors
from customerio_gcp_ops.cli import cli
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio.errors import AuthenticationError
from customerio_gcp.secrets import SecretNotConfiguredError, Secrets

PERSONAL = "ada.lovelace@example.com"
PREFIX = "customerio-gcp: error: "


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the machine: no project, no emulators, no Customer.io settings, no Google
    credentials (an empty home, and a metadata server on a closed port)."""
    for key in list(os.environ):
        if key not in ("PATH", "LANG", "LC_ALL", "TMPDIR"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{closed_port()}")
    monkeypatch.setenv("GCE_METADATA_IP", f"127.0.0.1:{closed_port()}")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def users_csv(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(text if text is not None else f"id,email,plan\nu1,{PERSONAL},pro\nu2,,free\n", encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def one_line(result: Result, exit_code: int = 1) -> str:
    """The failure's line, after checking it is the only output, with `exit_code`."""
    assert result.exit_code == exit_code, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(PREFIX), result.stderr
    assert " — " in result.stderr  # what is wrong — how to fix it
    assert "Traceback" not in result.stderr and PERSONAL not in result.stderr
    return result.stderr.removeprefix(PREFIX).strip()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def customerio(sandbox: Sandbox, **overrides: str) -> dict[str, str]:
    creds = sandbox.credentials
    return {
        "CIO_TRACK_URL": sandbox.url,
        "CIO_SITE_ID": creds.site_id,
        "CIO_TRACK_API_KEY": creds.track_api_key,
        **overrides,
    }


# --- Customer.io settings and answers ----------------------------------------------------------


def test_missing_customerio_settings_name_the_variables(tmp_path: Path) -> None:
    line = one_line(run("sync", "users", str(users_csv(tmp_path))))
    assert line.startswith("Customer.io settings CIO_SITE_ID and CIO_TRACK_API_KEY not configured — export ")
    assert "CIO_SITE_ID_SECRET" in line and "CIO_TRACK_API_KEY_SECRET" in line
    assert "make run ARGS=--keep-running" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "users.csv"]  # failed before anything started


def test_one_missing_setting_is_named_alone(tmp_path: Path) -> None:
    line = one_line(run("sync", "users", str(users_csv(tmp_path)), env={"CIO_SITE_ID": "site"}))
    assert line.startswith("Customer.io setting CIO_TRACK_API_KEY not configured")
    assert "CIO_SITE_ID " not in line


def test_a_secret_the_runtime_finds_unconfigured_is_explained() -> None:
    with pytest.raises(SecretNotConfiguredError) as raised:
        Secrets({}).get("track_api_key")
    error = errors.explain(raised.value)
    assert error.what == "Customer.io setting CIO_TRACK_API_KEY not configured"
    assert "CIO_TRACK_API_KEY_SECRET" in error.fix


def test_a_refused_key_says_which_keys_to_check(sandbox: Sandbox, tmp_path: Path) -> None:
    env = customerio(sandbox, CIO_TRACK_API_KEY="not-the-key")
    line = one_line(run("sync", "users", str(users_csv(tmp_path)), "--no-skip-unchanged", env=env))
    assert line.startswith("Customer.io refused the Track API credentials (HTTP 401) — check CIO_SITE_ID and ")
    assert "CIO_TRACK_API_KEY" in line and "CIO_REGION" in line
    assert SandboxControl(sandbox.url).requests(accepted_only=True) == []


def test_a_forbidden_workspace_is_explained(sandbox: Sandbox, tmp_path: Path) -> None:
    SandboxControl(sandbox.url).set_faults({"scripted": [{"status": 403, "count": 10, "path_contains": "/batch"}]})
    line = one_line(run("sync", "users", str(users_csv(tmp_path)), "--no-skip-unchanged", env=customerio(sandbox)))
    assert line.startswith("Customer.io forbids this Track API call (HTTP 403")
    assert "CIO_SITE_ID and CIO_TRACK_API_KEY" in line


def test_another_region_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from customerio_gcp.wiring import clients

    # An EU workspace called on the US host: the sandbox answers as Customer.io does, with a redirect.
    build = clients.build_http_client
    monkeypatch.setattr(clients, "build_http_client", lambda settings: _with_host(build(settings), "track.customer.io"))
    with Sandbox(region="eu") as eu:
        line = one_line(run("sync", "users", str(users_csv(tmp_path)), "--no-skip-unchanged", env=customerio(eu)))
    assert line.startswith("Customer.io answered from another region (redirected to track-eu.customer.io")
    assert "set CIO_REGION to the workspace's region" in line


def _with_host(client: httpx.Client, host: str) -> httpx.Client:
    client.headers["Host"] = host
    return client


def test_unreachable_customerio_names_the_url_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {"CIO_TRACK_URL": url, "CIO_SITE_ID": "s", "CIO_TRACK_API_KEY": "k", "HTTP_RETRY_ATTEMPTS": "1"}
    line = one_line(run("sync", "users", str(users_csv(tmp_path)), "--no-skip-unchanged", env=env))
    assert line.startswith(f"could not reach Customer.io (ConnectError) at {url} — check the network, or CIO_TRACK_URL")


def test_an_unknown_setting_value_is_named(tmp_path: Path) -> None:
    line = one_line(run("sync", "users", str(users_csv(tmp_path)), env={"CIO_REGION": "mars"}))
    assert line == "invalid setting: CIO_REGION must be 'us' or 'eu' — fix or unset that environment variable"


# --- Google: emulators, services, credentials --------------------------------------------------


def test_an_unreachable_pubsub_emulator_names_its_variable() -> None:
    host = f"127.0.0.1:{closed_port()}"
    line = one_line(run("--project", "p", "dlq", "list", env={"PUBSUB_EMULATOR_HOST": host}))
    assert line.startswith(f"cannot reach the Pub/Sub emulator at {host} (PUBSUB_EMULATOR_HOST) — start the local")
    assert "unset PUBSUB_EMULATOR_HOST to use Google Cloud" in line


def test_an_unreachable_firestore_emulator_names_its_variable(tmp_path: Path) -> None:
    host = f"127.0.0.1:{closed_port()}"
    env = {"FIRESTORE_EMULATOR_HOST": host, "CIO_SITE_ID": "s", "CIO_TRACK_API_KEY": "k"}
    line = one_line(run("--project", "p", "sync", "users", str(users_csv(tmp_path)), env=env))
    assert line.startswith(f"cannot reach the Firestore emulator at {host} (FIRESTORE_EMULATOR_HOST)")


def test_pubsub_going_away_mid_run_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pre-flight check passed, then the service stopped answering: the client's own error.
    from google.api_core.exceptions import ServiceUnavailable
    from google.cloud import pubsub_v1

    host = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    subscriber = pubsub_v1.SubscriberClient()
    with pytest.raises(ServiceUnavailable) as raised:
        subscriber.pull(
            request={"subscription": "projects/p/subscriptions/s", "max_messages": 1}, retry=None, timeout=5
        )
    error = errors.explain(raised.value)
    assert error.what.startswith(f"cannot reach the Pub/Sub emulator at {host} (PUBSUB_EMULATOR_HOST; ")
    assert "export the PUBSUB_EMULATOR_HOST it prints" in error.fix


def test_missing_google_credentials_say_how_to_log_in() -> None:
    line = one_line(run("--project", "p", "dlq", "list"))
    assert line.startswith("no Google Cloud credentials found — run `gcloud auth application-default login`")
    assert "PUBSUB_EMULATOR_HOST" in line


# --- input files -------------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    line = one_line(run("sync", "users", str(missing)))
    assert line == f"{missing}: no such file — give the path of a CSV or JSON-lines file of users"


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(f"id,email\nu1,{PERSONAL}\nu2,gr\xe2ce@example.com\n".encode("latin-1"))
    line = one_line(run("sync", "users", str(path)))
    assert line == f"{path} line 3: not UTF-8 text — save the file as UTF-8 and run again"


def test_a_csv_without_an_id_column(tmp_path: Path) -> None:
    path = users_csv(tmp_path, f"user,email\nu1,{PERSONAL}\n")
    line = one_line(run("sync", "users", str(path)))
    assert line.startswith(f"{path} line 1: the header has no 'id' column — start the file with a header")


def test_unreadable_csv_names_the_line_not_the_value(tmp_path: Path) -> None:
    path = users_csv(tmp_path, f"id,email,notes\nu1,{PERSONAL},short\nu2,x,{PERSONAL * 10_000}\n")
    line = one_line(run("sync", "users", str(path)))
    assert line.startswith(f"{path} line 3: not valid CSV (field larger than field limit")


def test_a_json_array_is_not_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(f'[{{"id": "u1", "email": "{PERSONAL}"}}]\n')
    line = one_line(run("sync", "users", str(path)))
    assert line.startswith(f"{path} line 1: a JSON array, not JSON lines — write one JSON object per line")


def test_a_checkpoint_of_another_source(tmp_path: Path) -> None:
    users = users_csv(tmp_path)
    (tmp_path / "users.csv.checkpoint.json").write_text('{"fingerprint": "csv:other", "position": [3, 0]}')
    line = one_line(run("sync", "users", str(users)))
    assert line.startswith(f"{tmp_path / 'users.csv.checkpoint.json'} belongs to another source")
    assert "--restart" in line


def test_a_bad_query_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    monkeypatch.chdir(tmp_path)  # a SQL sync's checkpoint and rejects files go to the working directory

    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE users (id TEXT, email TEXT)")
        connection.execute("INSERT INTO users VALUES ('u1', ?)", (PERSONAL,))
    env = {"CIO_SITE_ID": "s", "CIO_TRACK_API_KEY": "k", "CIO_TRACK_URL": f"http://127.0.0.1:{closed_port()}"}
    args = ["sync", "users", "--sql-url", f"sqlite:///{database}", "--no-skip-unchanged"]
    line = one_line(run(*args, "--query", "SELECT id, email FROM people", env=env))
    assert line.startswith("the database refused --query or --sql-url (OperationalError: no such table: people)")
    line = one_line(
        run("sync", "users", "--sql-url", "nosuchdb://x", "--no-skip-unchanged", "--query", "SELECT 1", env=env)
    )
    assert line.startswith("--sql-url names a database driver that is not installed")


# --- usage, and the unexpected -----------------------------------------------------------------


def test_a_usage_error_is_one_line_with_exit_code_2() -> None:
    line = one_line(run("dlq", "list", "--kind", "nope"), exit_code=2)
    assert line.startswith("Invalid value for '--kind'")
    assert line.endswith("— see 'cli dlq list --help'")


def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from customerio_gcp_ops import sources

    def broken(_self: object) -> int:
        raise RuntimeError(f"something about {PERSONAL}")

    monkeypatch.setattr(sources.Source, "count", broken)
    line = one_line(run("sync", "users", str(users_csv(tmp_path))))
    assert line.startswith("unexpected RuntimeError at test_ops_errors.py:")
    assert line.endswith("— run with --debug for the traceback (and report it if it is a bug)")
    debug = run("--debug", "sync", "users", str(users_csv(tmp_path)))
    assert isinstance(debug.exception, RuntimeError)  # not swallowed: the traceback is shown


def test_the_authentication_error_of_an_unknown_api_names_every_key() -> None:
    error = errors.explain(AuthenticationError("Unauthorized", status=401))
    assert "CIO_SITE_ID, CIO_TRACK_API_KEY or CIO_APP_API_KEY" in error.fix


def test_a_secret_missing_from_secret_manager_names_the_setting(sandbox: Sandbox, tmp_path: Path) -> None:
    from tests.support.fake_secret_manager import FakeSecretManager

    secret_manager = FakeSecretManager()
    try:
        secret_manager.set("cio-site-id", sandbox.credentials.site_id)  # the key's secret was never created
        env = {
            "CIO_TRACK_URL": sandbox.url,
            "CIO_SITE_ID_SECRET": "cio-site-id",
            "CIO_TRACK_API_KEY_SECRET": "cio-track-key",
            "SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
        }
        args = ["--project", "demo", "sync", "users", str(users_csv(tmp_path)), "--no-skip-unchanged"]
        line = one_line(run(*args, env=env))
    finally:
        secret_manager.stop()
    assert line.startswith("Secret Manager: 404 ")
    assert "check the CIO_*_SECRET ids" in line


def test_google_refusals_keep_hosts_and_mask_emails() -> None:
    from google.api_core.exceptions import PermissionDenied

    refused = PermissionDenied(f"{PERSONAL} lacks pubsub.subscriptions.consume on projects/p at 10.0.0.12:443")
    error = errors.explain(refused)
    assert error.what == (
        "Google Cloud refused the call: 403 <email> lacks pubsub.subscriptions.consume on projects/p at 10.0.0.12:443"
    )
    assert "gcloud auth application-default login" in error.fix
