"""`customerio-gcp sync users` against the sandbox (Track v2 batches) and the Firestore emulator
(the unchanged-identify check), as a real process where it must be interrupted."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from customerio_gcp_ops.cli import cli
from customerio_gcp_ops.sources import open_source
from customerio_gcp_ops.user_sync import Rejects, SyncReport, planned_operations
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio.batching import Chunk, pack
from customerio_gcp.customerio.limits import V2_BATCH_MAX_BYTES, json_size
from tests.conftest import PROJECT

USERS = 20_000
REJECTED_BY_CUSTOMERIO = ["u-00017", "u-09999", "u-19998"]


def write_users(path: Path, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "plan", "country", "opted_out", "deleted", "updated_at"])
        for i in range(count):
            opted_out = "true" if i % 50 == 7 else ""
            deleted = "true" if i % 97 == 3 else ""
            writer.writerow(
                [
                    f"u-{i:05d}",
                    f"user{i}@example.com",
                    ["free", "pro", "team"][i % 3],
                    "FR",
                    opted_out,
                    deleted,
                    1_767_225_600 + i,
                ]
            )
        writer.writerow(["", "no-id@example.com", "pro", "FR", "", "", ""])  # rejected locally: no id
        writer.writerow(["u-bad-date", "bad@example.com", "pro", "FR", "", "", "yesterday"])  # rejected locally


def environment(sandbox: Sandbox, unique: str) -> dict[str, str]:
    return {
        **os.environ,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "CIO_TRACK_URL": sandbox.url,
        "CIO_SITE_ID": sandbox.credentials.site_id,
        "CIO_TRACK_API_KEY": sandbox.credentials.track_api_key,
        "IDENTIFY_HASH_COLLECTION": f"sync-hashes-{unique}",
    }


def expected_requests(source: Path) -> int:
    """How many requests the operations of `source` pack into: what one uninterrupted sync sends."""
    rejects = Rejects(source.with_suffix(".expected-rejects"))
    try:
        ops = (p.operation for p in planned_operations(open_source(str(source)), 0, SyncReport(), rejects))
        return sum(1 for part in pack(ops) if isinstance(part, Chunk))
    finally:
        rejects.close()


def test_a_20000_user_sync_is_exact_packed_resumable_and_reports_rejects(
    sandbox: Sandbox, control: SandboxControl, firestore_emulator: str, tmp_path: Path, unique: str
) -> None:
    users = tmp_path / "users.csv"
    write_users(users, USERS)
    control.set_faults({"reject_identifiers": REJECTED_BY_CUSTOMERIO})
    env = environment(sandbox, unique)
    command = [sys.executable, "-m", "customerio_gcp_ops.cli", "sync", "users", str(users), "--rate", "2"]

    # Start, let it finish a few requests, then kill it (SIGTERM: it saves and stops).
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = users.with_name("users.csv.checkpoint.json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        checkpoint.exists() and json.loads(checkpoint.read_text())["report"]["requests"] >= 3
    ):
        time.sleep(0.05)
    first.send_signal(signal.SIGTERM)
    _out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "run the same command again to resume" in err
    done_before = len(control.requests("v2_batch"))
    assert 3 <= done_before < expected_requests(users)

    # Resume: the same command picks up after the last acknowledged request.
    resumed = subprocess.run([*command[:-2], "--rate", "100"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout.splitlines()[0])

    batches = control.requests("v2_batch")
    assert len(batches) == expected_requests(users)  # nothing resent, nothing missing
    sizes = [json_size(b["body"]) for b in batches]
    assert all(size <= V2_BATCH_MAX_BYTES for size in sizes)
    assert all(size > V2_BATCH_MAX_BYTES - 2_000 for size in sizes[:-1])  # filled close to the limit

    people = {p: control.person(p) for p in ("u-00000", "u-00007", "u-00003", "u-00017", "u-19999")}
    assert people["u-00000"]["identifies"] == 1 and people["u-00000"]["attributes"]["email"] == "user0@example.com"
    assert people["u-00007"]["suppressed"] is True  # opted out
    assert people["u-00003"] is None  # deleted
    assert people["u-00017"] is None  # refused in a 207
    summary = control.summary()
    identified = USERS - sum(1 for i in range(USERS) if i % 97 == 3 or i % 50 == 7) - len(REJECTED_BY_CUSTOMERIO)
    opted_out_kept = sum(1 for i in range(USERS) if i % 50 == 7 and i % 97 != 3)
    assert summary["people"] == identified + opted_out_kept
    # Every person exactly once: no identify was sent twice across the interruption.
    assert all(p.identifies == 1 for p in sandbox.workspace.people.values() if not p.suppressed)

    rejects = list(csv.DictReader(users.with_name("users.csv.rejects.csv").open()))
    reasons = {r["user_id"]: r["reason"] for r in rejects}
    assert set(REJECTED_BY_CUSTOMERIO) <= set(reasons) and reasons["u-00017"].startswith("rejected identifiers")
    assert reasons[""] == "id is missing"
    assert reasons["u-bad-date"] == "updated_at is neither unix seconds nor an ISO date"
    assert report["rejected"] + json.loads(checkpoint.read_text())["report"]["rejected"] >= len(rejects) - 1


def test_identify_counts_show_each_user_once(
    sandbox: Sandbox, control: SandboxControl, firestore_emulator: str, tmp_path: Path, unique: str
) -> None:
    users = tmp_path / "users.csv"
    write_users(users, 3_000)
    runner = CliRunner()
    env = environment(sandbox, unique)
    result = runner.invoke(cli, ["sync", "users", str(users)], env=env)
    assert result.exit_code == 0, result.output
    counts = [sandbox.workspace.people[p].identifies for p in sandbox.workspace.people]
    assert counts and set(counts) <= {0, 1}  # 0: suppressed only (opted out)

    # Re-running the same sync sends only what is not unchanged: no identify at all.
    before = len(control.requests("v2_batch"))
    again = runner.invoke(cli, ["sync", "users", str(users), "--restart"], env=env)
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout.splitlines()[0])
    assert report["skipped_unchanged"] == sum(1 for c in counts if c == 1)
    new_batches = control.requests("v2_batch")[before:]
    actions = {op["action"] for b in new_batches for op in b["body"]["batch"]}
    assert actions <= {"suppress", "delete"}


def test_sync_from_sql_through_sqlalchemy(
    sandbox: Sandbox, control: SandboxControl, firestore_emulator: str, tmp_path: Path, unique: str
) -> None:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TABLE users (id TEXT, email TEXT, plan TEXT, unsubscribed INTEGER, removed INTEGER, changed TEXT)"
        )
        connection.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
            [
                (f"s-{i}", f"s{i}@example.com", "pro", int(i == 3), int(i == 4), "2026-01-01T00:00:00Z")
                for i in range(100)
            ],
        )
    query = "SELECT id, email, plan, unsubscribed AS opted_out, removed AS deleted, changed AS updated_at FROM users ORDER BY id"
    result = CliRunner().invoke(cli, ["sync", "users", "--sql-url", f"sqlite:///{database}", "--query", query,
                                      "--checkpoint", str(tmp_path / "cp.json"), "--rejects", str(tmp_path / "rejects.csv")],
                                env=environment(sandbox, unique))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert control.person("s-0")["attributes"] == {"plan": "pro", "email": "s0@example.com"}
    assert control.person("s-3")["suppressed"] is True
    assert control.person("s-4") is None
    identify = next(op for b in control.requests("v2_batch") for op in b["body"]["batch"] if op["action"] == "identify")
    assert identify["timestamp"] == 1_767_225_600  # the source's updated_at: an honest timestamp


def test_sync_via_pubsub(pubsub_emulator: str, sandbox: Sandbox, tmp_path: Path, unique: str) -> None:
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(PROJECT, f"customerio-identify-{unique}")).name
    sub = subscriber.create_subscription(name=subscriber.subscription_path(PROJECT, f"sync-{unique}"), topic=topic).name
    users = tmp_path / "few.csv"
    write_users(users, 60)
    result = CliRunner().invoke(
        cli,
        ["--suffix", f"-{unique}", "sync", "users", str(users), "--via", "pubsub"],
        env=environment(sandbox, unique),
    )
    assert result.exit_code == 0, result.output
    received = []
    for _ in range(10):
        response = subscriber.pull(request={"subscription": sub, "max_messages": 100, "return_immediately": True})
        received += [m.message for m in response.received_messages]
        if response.received_messages:
            subscriber.acknowledge(
                request={"subscription": sub, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
    ops = [m.attributes["op"] for m in received]
    deleted = sum(1 for i in range(60) if i % 97 == 3)
    opted_out = sum(1 for i in range(60) if i % 50 == 7 and i % 97 != 3)
    assert ops.count("identify") == 60 - deleted - opted_out
    assert ops.count("delete") == deleted and ops.count("suppress") == opted_out  # a delete suppresses itself
    subscriber.close()


@pytest.mark.parametrize("bad", [["sync", "users"], ["sync", "users", "--sql-url", "sqlite://"]])
def test_usage_errors_are_clear(bad: list[str]) -> None:
    result = CliRunner().invoke(cli, bad, env={"GOOGLE_CLOUD_PROJECT": PROJECT})
    assert result.exit_code == 2
    assert "CSV or JSON-lines file" in result.output or "--query is required" in result.output
