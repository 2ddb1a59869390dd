"""The operator's commands against the running pipeline: dead letters are listed by reason,
replayed to their source topic (delivered once, never sent twice), filtered, purged; users are
synced in batches and through Pub/Sub; status.

Every command runs with the settings `make run ARGS=--keep-running` prints for the stack, and
nothing else: no --project, no --suffix, no Customer.io setting from anywhere else.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import time
import uuid
from pathlib import Path

from click.testing import CliRunner
from customerio_gcp_local.pipeline import print_keep_running
from customerio_gcp_local.stack import wait_until
from customerio_gcp_ops.cli import cli
from google.cloud import pubsub_v1

from customerio_gcp.customerio import Identifiers
from customerio_gcp.messages import IdentifyPerson, SendEmail, TrackEvent
from customerio_gcp.messages.codec import encode
from tests.e2e.conftest import Pipeline


def printed_settings(pipeline: Pipeline) -> dict[str, str]:
    """The `export` lines `--keep-running` prints for this stack."""
    out = io.StringIO()
    print_keep_running(pipeline.stack, out)
    settings = {}
    for line in out.getvalue().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            [settings[key]] = shlex.split(value)
    return settings


def run(pipeline: Pipeline, *args: str, input: str | None = None):
    return CliRunner(env=printed_settings(pipeline)).invoke(cli, list(args), input=input)


def in_dead_letters(pipeline: Pipeline, kind: str, original_ids: set[str]) -> set[str]:
    stack = pipeline.stack
    found = set()
    for message in stack.pull_dead_letters(kind):  # not acknowledged: they stay
        original = message.attributes.get("dlq_original_message_id", message.message_id)
        if original in original_ids:
            found.add(original)
    return found


def test_replay_delivers_each_dead_letter_once_and_leaves_the_filtered_out(pipeline: Pipeline) -> None:
    run_id = uuid.uuid4().hex[:8]
    people = [f"dl-{run_id}-{i}" for i in range(3)]
    control = pipeline.control
    # Customer.io refuses these people's operations for now (a 207 naming each in its batch):
    # their messages are dead-lettered at once, their neighbours' delivered.
    control.set_faults({"reject_identifiers": people})
    ids = [
        pipeline.publisher.publish(IdentifyPerson(identifiers=Identifiers(id=people[0]), attributes={"plan": "pro"})),
        pipeline.publisher.publish(IdentifyPerson(identifiers=Identifiers(id=people[1]), attributes={"plan": "team"})),
        pipeline.publisher.publish(
            TrackEvent(identifiers=Identifiers(id=people[2]), name="ordered", timestamp=1_700_000_000)
        ),
    ]
    raw = pubsub_v1.PublisherClient()
    invalid = raw.publish(pipeline.stack.topology["identify"].topic, b'{"op": "identify", "identifiers": {}}').result()
    # A send that went out, and a copy of it dead-lettered anyway (say, after an ambiguous timeout).
    send = SendEmail(
        transactional_message_id=9,
        to=f"{run_id}@example.com",
        identifiers=Identifiers(id=people[0]),
        idempotency_key=f"once-{run_id}",
    )
    pipeline.publisher.publish(send)
    assert wait_until(
        lambda: any(d["request"].get("to") == f"{run_id}@example.com" for d in control.deliveries()), timeout=30
    )
    copy_id = raw.publish(pipeline.stack.topology["transactional"].dead_letter_topic, encode(send), op="send_email",
                          dlq_error_class="RequestTimeoutError", dlq_reason="no answer in time").result()  # fmt: skip
    assert wait_until(
        lambda: in_dead_letters(pipeline, "identify", {ids[0], ids[1], invalid}) == {ids[0], ids[1], invalid},
        timeout=30,
    )
    assert wait_until(lambda: in_dead_letters(pipeline, "track", {ids[2]}) == {ids[2]}, timeout=30)
    control.set_faults({})  # Customer.io takes them again

    listed = run(pipeline, "dlq", "list")
    assert listed.exit_code == 0, listed.output
    assert "BatchItemError" in listed.output and "InvalidMessageError" in listed.output
    assert f"{run_id}@example.com" not in listed.output  # no personal data unless asked for

    dry = run(pipeline, "dlq", "replay", "--reason", "BatchItemError", "--dry-run")
    assert dry.exit_code == 0 and "would replay" in dry.output
    assert in_dead_letters(pipeline, "identify", {ids[0], ids[1]}) == {ids[0], ids[1]}  # a dry run changes nothing

    replayed = run(pipeline, "dlq", "replay", "--reason", "BatchItemError", "--rate", "50")
    assert replayed.exit_code == 0, replayed.output
    again = run(pipeline, "dlq", "replay", "--kind", "transactional", "--message-id", copy_id)
    assert again.exit_code == 0, again.output

    # Delivered once each; the send that had gone out is not sent again; the filtered-out letter stays.
    assert wait_until(lambda: all(control.person(p) for p in people[:2]), timeout=30)
    assert wait_until(lambda: any(e.get("customer") == people[2] for e in control.events()), timeout=30)
    # people[0]'s identify: refused once inside its batch (207), accepted once after the replay.
    track = [r for r in control.requests(identifier=people[0]) if r["api"] == "track_v2"]
    assert [(r["operation"], r["status"]) for r in track] == [("v2_batch", 207), ("v2_batch", 200)]
    assert control.person(people[0])["identifies"] == 1
    assert sum(1 for e in control.events() if e.get("customer") == people[2]) == 1
    assert not wait_until(
        lambda: sum(1 for d in control.deliveries() if d["request"].get("to") == f"{run_id}@example.com") > 1, timeout=5
    )
    assert in_dead_letters(pipeline, "identify", {ids[0], ids[1], invalid}) == {invalid}
    assert in_dead_letters(pipeline, "track", {ids[2]}) == set()

    # Purge asks first; "no" keeps the letter.
    kept = run(pipeline, "dlq", "purge", "--message-id", invalid, input="n\n")
    assert kept.exit_code == 0 and "nothing purged" in kept.output
    assert in_dead_letters(pipeline, "identify", {invalid}) == {invalid}
    purged = run(pipeline, "dlq", "purge", "--message-id", invalid, input="y\n")
    assert purged.exit_code == 0 and "purged 1" in purged.output
    assert in_dead_letters(pipeline, "identify", {invalid}) == set()


def test_show_hides_data_unless_asked(pipeline: Pipeline) -> None:
    raw = pubsub_v1.PublisherClient()
    secret = f"{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"op": "identify", "identifiers": {"email": secret, "id": "x"}}).encode()
    message_id = raw.publish(pipeline.stack.topology["identify"].topic, body).result()
    assert wait_until(lambda: in_dead_letters(pipeline, "identify", {message_id}) == {message_id}, timeout=30)
    hidden = run(pipeline, "dlq", "show", "--message-id", message_id)
    assert hidden.exit_code == 0 and secret not in hidden.output and "bytes (--show-data to print)" in hidden.output
    shown = run(pipeline, "dlq", "show", "--message-id", message_id, "--show-data")
    assert secret in shown.output
    run(pipeline, "dlq", "purge", "--message-id", message_id, "--yes")


def test_status_against_the_emulators(pipeline: Pipeline) -> None:
    result = run(pipeline, "status")
    assert result.exit_code == 0, result.output
    assert "emulator: backlog, message age and counts come from Cloud Monitoring" in result.output
    lines = [
        line for line in result.output.splitlines() if line.split(" ")[0] in ("identify", "track", "transactional")
    ]
    assert len(lines) == 3
    assert all("attempts 10" in line and "backoff 1s–3s" in line and "dead letters" in line for line in lines)
    # The webhook events topic's two subscriptions: their dead letters counted (read, not consumed)
    webhook = [line for line in result.output.splitlines() if line.startswith("webhook-")]
    assert [line.split(" ")[0] for line in webhook] == ["webhook-bigquery", "webhook-routing"]
    assert all(re.search(r"dead letters \d+ ", line) for line in webhook), webhook


def test_a_send_with_an_unknown_outcome_waits_in_the_dead_letters_until_replayed(pipeline: Pipeline) -> None:
    run_id = uuid.uuid4().hex[:8]
    to = f"unknown-{run_id}@example.com"
    control = pipeline.control
    control.set_faults({"scripted": [{"status": 500, "count": 1, "path_contains": "/v1/send/email"}]})
    message_id = pipeline.publisher.publish(
        SendEmail(transactional_message_id=4, to=to, identifiers=Identifiers(id=run_id), idempotency_key=f"u-{run_id}")
    )
    assert wait_until(lambda: in_dead_letters(pipeline, "transactional", {message_id}) == {message_id}, timeout=30)
    [letter] = [
        m
        for m in pipeline.stack.pull_dead_letters("transactional")
        if m.attributes.get("dlq_original_message_id") == message_id
    ]
    assert letter.attributes["dlq_error_class"] == "OutcomeUnknownError"
    assert "not retried automatically to avoid a duplicate" in letter.attributes["dlq_reason"]

    def sends() -> list[dict]:
        return [r for r in control.requests("send_email") if r["body"] and r["body"].get("to") == to]

    # A plain replay (or any publisher's marker) does not send it again: the record refuses it.
    replayed = run(pipeline, "dlq", "replay", "--reason", "OutcomeUnknownError", "--message-id", message_id)
    assert replayed.exit_code == 0, replayed.output
    assert "--resend-unknown" in replayed.output

    def again() -> list[str]:  # the replay, dead-lettered again: a new message, the same bytes
        return [
            m.attributes["dlq_original_message_id"]
            for m in pipeline.stack.pull_dead_letters("transactional")
            if to.encode() in m.data and m.attributes.get("dlq_error_class") == "OutcomeUnknownError"
        ]

    assert wait_until(lambda: len(again()) == 1, timeout=30)
    assert [r["status"] for r in sends()] == [500]

    # The operator's explicit decision, written into the send-once record, sends it once more.
    approved = run(pipeline, "dlq", "replay", "--resend-unknown", "--message-id", again()[0])
    assert approved.exit_code == 0, approved.output
    assert "approved resending 1 send(s)" in approved.output
    assert wait_until(lambda: [r["status"] for r in sends()] == [500, 200], timeout=30)
    assert not wait_until(lambda: len(sends()) > 2, timeout=3)


def test_sync_users_with_the_printed_settings(pipeline: Pipeline, tmp_path: Path) -> None:
    from google.cloud import firestore

    run_id = uuid.uuid4().hex[:8]
    people = [f"sync-{run_id}-{i}" for i in range(3)]
    users = tmp_path / "users.csv"
    users.write_text(
        "id,email,plan,opted_out\n"
        f"{people[0]},{run_id}-0@example.com,pro,\n"
        f"{people[1]},{run_id}-1@example.com,team,\n"
        f"{people[2]},{run_id}-2@example.com,free,true\n"
    )
    control = pipeline.control
    hashes = firestore.Client(project=pipeline.stack.project).collection(
        f"customerio_identify_hashes{pipeline.stack.suffix}"
    )
    known = len(list(hashes.list_documents()))

    # Through the identify topic: the stack's identify function delivers (coalescing, so it
    # remembers no hashes: v2 may ignore a stale identify with a 200).
    published = run(pipeline, "sync", "users", str(users), "--via", "pubsub")
    assert published.exit_code == 0, published.output
    assert wait_until(lambda: control.person(people[1]) and control.person(people[1])["attributes"]["plan"] == "team",
                      timeout=30)  # fmt: skip

    # Straight to Customer.io in batches, twice: the first run remembers what it sent in the
    # printed collection (the stack's), the second finds the identifies unchanged; the suppress
    # is always sent.
    first = run(pipeline, "sync", "users", str(users))
    assert first.exit_code == 0, first.output
    assert wait_until(lambda: len(list(hashes.list_documents())) >= known + 2, timeout=30)
    batch = run(pipeline, "sync", "users", str(users), "--restart")
    assert batch.exit_code == 0, batch.output
    report = json.loads(batch.stdout.splitlines()[0])
    assert (report["sent"], report["skipped_unchanged"], report["rejected"]) == (1, 2, 0)
    assert f"{run_id}-0@example.com" not in batch.output

    users.write_text(f"id,plan\n{people[0]},enterprise\n")
    changed = run(pipeline, "sync", "users", str(users), "--restart")
    assert changed.exit_code == 0, changed.output
    assert control.person(people[0])["attributes"]["plan"] == "enterprise"


def test_webhooks_reprocess_with_the_printed_settings(pipeline: Pipeline) -> None:
    """The command as an operator runs it: a piece quarantined by yesterday's code is re-judged,
    its events published under the deployed personal-data rule, the piece acknowledged."""
    from customerio_gcp.webhooks.quarantine import Quarantined

    run_id = uuid.uuid4().hex[:8]
    events = [{"event_id": f"rq-{run_id}-{i}", "object_type": "email", "metric": "sent",
               "timestamp": 1_800_000_000, "data": {"delivery_id": f"d-{i}"}} for i in range(2)]  # fmt: skip
    piece = Quarantined(json.dumps(events).encode(), "item 1: metric: unknown", "body", 1_800_000_000.0)
    publisher = pubsub_v1.PublisherClient()
    for data, attributes in piece.messages():
        publisher.publish(pipeline.stack.webhook_quarantine_topic, data, **attributes).result(timeout=30)

    result = run(pipeline, "webhooks", "reprocess")
    assert result.exit_code == 0, result.output
    assert "1 quarantined piece(s): published 2 event(s) (personal data: hash); 0 still fail" in result.output
    again = run(pipeline, "webhooks", "reprocess", "--dry-run")
    assert again.exit_code == 0 and "0 quarantined piece(s)" in again.output  # acknowledged, not back


def test_webhooks_reprocess_needs_the_personal_data_rule(pipeline: Pipeline) -> None:
    env = printed_settings(pipeline)
    del env["WEBHOOK_PERSONAL_DATA"]
    result = CliRunner(env=env | {"WEBHOOK_PERSONAL_DATA": None}).invoke(cli, ["webhooks", "reprocess"])
    assert result.exit_code != 0 and "personal-data" in result.output
    assert "Traceback" not in result.output


def test_rows_bigquery_refused_are_listed_with_the_reason_and_replayed_into_the_table(pipeline: Pipeline) -> None:
    """The BigQuery subscription's dead letters, as an operator meets them: one row refused now
    (a column the table lacks), listed with BigQuery's reason; one refused before a fix (here:
    put into the dead-letter topic as the subscription would have), replayed by id into the
    events topic and written; the other stays."""
    stack = pipeline.stack
    run_id = uuid.uuid4().hex[:8]
    publisher = pubsub_v1.PublisherClient()
    refused = json.dumps({"event_id": f"bq-{run_id}-refused", "object_type": "email", "metric": "sent",
                          "no_such_column": 1}).encode()  # fmt: skip
    publisher.publish(stack.webhook_events_topic, refused, event_id=f"bq-{run_id}-refused").result(timeout=30)
    now_us = int(time.time()) * 1_000_000
    fixed = {"event_id": f"bq-{run_id}-fixed", "object_type": "email", "metric": "delivered",
             "event_timestamp": now_us, "received_at": now_us, "delivery_id": f"bq-{run_id}"}  # fmt: skip
    dead_letter_topic = stack.webhook_path("topics", stack.config.webhook.bigquery_dead_letter_topic)
    fixed_id = publisher.publish(dead_letter_topic, json.dumps(fixed).encode(), event_id=fixed["event_id"],
                                 CloudPubSubDeadLetterSourceDeliveryCount="100",
                                 CloudPubSubDeadLetterSourceDeliveryErrorMessage="no such field: x").result()  # fmt: skip

    def listed() -> str:
        result = run(pipeline, "dlq", "list", "--kind", "webhook-bigquery")
        assert result.exit_code == 0, result.output
        return result.output

    assert wait_until(lambda: "fields not in the table: no_such_column" in listed(), timeout=30)
    routine = run(pipeline, "dlq", "list")  # webhook dead letters are asked for by name
    assert routine.exit_code == 0 and "webhook-bigquery" not in routine.output, routine.output
    replayed = run(pipeline, "dlq", "replay", "--kind", "webhook-bigquery", "--message-id", fixed_id)
    assert replayed.exit_code == 0 and "replayed 1," in replayed.output, replayed.output

    query = (f"SELECT event_id FROM `{stack.project}.{stack.bigquery_dataset}.events_unique` "
             f"WHERE delivery_id = 'bq-{run_id}'")  # fmt: skip
    assert wait_until(lambda: len(list(stack.bigquery.query(query).result())) == 1, timeout=30)
    left = listed()
    assert "no_such_column" in left and "no such field: x" not in left
    run(pipeline, "dlq", "purge", "--kind", "webhook-bigquery", "--yes")
    assert "no_such_column" not in listed()
