"""`make run`: the whole pipeline on this machine, a demo workload, and a summary of what happened.

    python -m customerio_gcp_local.pipeline [--keep-running] [--functions-dir build/functions]

Starts the Pub/Sub, Firestore and BigQuery emulators, the Customer.io sandbox, the three delivery
functions and webhook-ingest (the packaged trees); creates the topics, dead-letter topics and
subscriptions from `pipeline.json` (delivered by `pusher.PullPusher` with Pub/Sub push's
semantics) and the BigQuery dataset, table and views; publishes a demo workload through the
publisher and prints what reached Customer.io, what was retried and what sits in which
dead-letter topic and why; then prints what the sandbox reported back on the sends through
webhook-ingest and the BigQuery subscription, and what a forged and an unparseable post got.
With `--keep-running` it stays up for manual use until Ctrl-C; every process it started is
stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.messages import MergePeople, SendEmail, TrackEvent
from customerio_gcp.pipeline import TOPIC_KINDS
from customerio_gcp.repository import User, plan
from customerio_gcp_local.emulators import MissingToolError, require_gcloud
from customerio_gcp_local.stack import LocalStack, wait_until

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed, so the demo's event ULIDs are reproducible
RECEIPTS = 12


def demo_workload() -> list[Any]:
    """New users, events, a transactional email (published twice), an opt-out, a deletion."""
    users = [
        User("user-1001", email="ada@example.com", attributes={"plan": "pro"}, created_at=NOW, updated_at=NOW),
        User("user-1002", email="grace@example.com", attributes={"plan": "team"}, created_at=NOW, updated_at=NOW),
        User("user-1003", email="alan@example.com", attributes={"plan": "free"}, created_at=NOW, updated_at=NOW),
        User("user-1004", email="opted.out@example.com", opted_out=True),
        User("user-1005", email="gone@example.com", deleted=True),
    ]
    messages: list[Any] = [message for user in users for message in plan(user)]
    messages += [
        TrackEvent(identifiers=Identifiers(id="user-1001"), name="signed_up", timestamp=NOW, data={"source": "ads"}),
        TrackEvent(identifiers=Identifiers(id="user-1002"), name="page_viewed", op="page", timestamp=NOW + 5),
        TrackEvent(identifiers=Identifiers(id="user-1003"), name="trial_started", timestamp=NOW + 9),
    ]
    welcome = SendEmail(
        transactional_message_id=1,
        to="ada@example.com",
        identifiers=Identifiers(id="user-1001"),
        message_data={"first_name": "Ada"},
        idempotency_key="welcome-user-1001",
    )
    messages += [welcome, welcome]  # a duplicate publish: must be sent once
    messages += [  # receipts: Customer.io reports on each (sent, delivered, opened, …) to webhook-ingest
        SendEmail(transactional_message_id="receipt", to=f"buyer{n}@example.com",
                  identifiers=Identifiers(id=f"buyer-{n}"), idempotency_key=f"receipt-order-{n}")
        for n in range(1, RECEIPTS + 1)
    ]  # fmt: skip
    return messages


def run_demo(stack: LocalStack, out: Any = sys.stdout) -> dict[str, Any]:
    control = stack.control
    publisher = stack.publisher()
    # The Track requests carrying user-1003's operations meet three injected 503s first (two
    # client attempts per delivery); coalesced, a request is refused whole, with whatever shares it.
    control.set_faults({"scripted": [{"status": 503, "count": 3, "identifier": "user-1003", "path_contains": "/api/"}]})
    messages = demo_workload()
    publisher.publish_many(messages)
    # A merge into a person who does not exist: Customer.io answers 400, a permanent failure.
    publisher.publish(MergePeople(primary=Identifiers(id="user-9999"), secondary=Identifiers(id="user-1002")))
    # A message that bypasses the publisher's validation: malformed, dead-lettered on arrival.
    from google.cloud import pubsub_v1

    raw = pubsub_v1.PublisherClient()
    raw.publish(stack.topology["identify"].topic, b'{"op": "identify", "identifiers": {}}', op="identify").result()
    raw.publish(stack.topology["track"].topic, b"not json at all").result()
    published = len(messages) + 3
    print(
        f"published {published} messages ({len(messages)} demo, 1 bound to fail at Customer.io, 2 malformed)", file=out
    )

    expected_operations = Counter({"identify": 3, "suppress": 2, "delete": 1, "event": 3, "send_email": 1 + RECEIPTS})
    dead: dict[str, list[Any]] = {}

    def settled() -> bool:
        accepted = Counter(control.summary()["applied_by_operation"])  # v2 batch items counted one by one
        for kind in TOPIC_KINDS:
            dead[kind] = stack.pull_dead_letters(kind)
        return all(accepted[k] >= n for k, n in expected_operations.items()) and sum(map(len, dead.values())) >= 3

    if not wait_until(settled, timeout=90, interval=0.5):
        print("warning: the pipeline did not settle within 90 s; showing what arrived so far", file=out)
    summary = summarize(stack, dead)
    welcome = [m for m in messages if isinstance(m, SendEmail) and m.idempotency_key == "welcome-user-1001"]
    summary["welcome_published"] = len(welcome)
    # What the sandbox applied, whatever it answered: the measured count, not the expected one.
    summary["welcome_sent"] = control.applied_count("send_email", key_field="to").get("ada@example.com", 0)
    print_summary(summary, out)
    return summary


def summarize(stack: LocalStack, dead: dict[str, list[Any]]) -> dict[str, Any]:
    """What Customer.io (the sandbox) saw, counted per operation: identify and track coalesce, so
    their operations travel as the items of `/api/v2/batch` requests, each counted on its own."""
    control = stack.control
    requests = control.requests()
    sandbox = control.summary()
    batches = [r for r in requests if r["operation"] == "v2_batch"]
    return {
        "accepted": Counter(sandbox["applied_by_operation"]),  # what changed the workspace
        "ignored": Counter(op for r in requests if 200 <= r["status"] < 300 and r["note"] for op in _ignored(r)),
        "retried": Counter(_label(r) for r in requests if r["status"] >= 500 or r["status"] == 429),
        # 4xx: the whole request; 207: some items of a batch (each dead-lettered with its reason)
        "refused": Counter(_label(r) for r in requests if r["status"] == 207 or 400 <= r["status"] < 429
                           or 429 < r["status"] < 500),
        "requests": {
            "track": sum(1 for r in requests if r["api"].startswith("track")),
            "batches": len(batches),
            "batch_items": sum(len(_actions(r)) for r in batches),
            "track_v1": sum(1 for r in requests if r["api"] == "track_v1"),
        },
        "sandbox": sandbox,
        "dead_letters": {
            kind: [
                {
                    "error_class": m.attributes.get("dlq_error_class") or "retries exhausted",
                    "reason": m.attributes.get("dlq_reason")
                    or f"{m.attributes.get('CloudPubSubDeadLetterSourceDeliveryCount', '?')} delivery attempts failed",
                    "original_message_id": m.attributes.get("dlq_original_message_id", m.message_id),
                }
                for m in messages
            ]
            for kind, messages in dead.items()
        },
    }  # fmt: skip


def run_webhook_demo(stack: LocalStack, out: Any = sys.stdout) -> dict[str, Any]:
    """Close the loop: the sandbox reports on the sends the demo made, as a workspace's reporting
    webhook would (signed, in order, retried), webhook-ingest keeps them in Pub/Sub, the BigQuery
    subscription writes them; then a forged post and a signed body that cannot be parsed."""
    import httpx

    from customerio_gcp.webhooks.signature import signed_headers

    assert stack.webhook_url is not None, "the stack runs without webhook-ingest"
    assert stack.bigquery is not None
    assert stack.bigquery_subscription is not None
    control = stack.control
    control.flush_webhooks(timeout=60)
    reported = control.webhooks()
    sent = reported["sent"]
    client = stack.bigquery
    table = f"{stack.project}.{stack.bigquery_dataset}"  # our own names, not input: no injection here
    count_unique = f"SELECT COUNT(*) AS n FROM `{table}.events_unique`"  # noqa: S608

    def unique_rows() -> int:
        return int(next(iter(client.query(count_unique).result()))["n"])

    # Distinct events, not rows written: an event posted again (an answer Customer.io waited too
    # long for) is written twice, and counting rows could stop the wait before the last one.
    wait_until(lambda: unique_rows() >= sent, timeout=60)
    with httpx.Client(timeout=10) as http:
        forged_body = json.dumps({"event_id": "forged", "object_type": "email", "metric": "spammed",
                                  "timestamp": int(time.time())}).encode()  # fmt: skip
        forged = http.post(stack.webhook_url, content=forged_body,
                           headers=signed_headers(forged_body, "not-the-key")).status_code  # fmt: skip
        garbled = b'{"event_id": "cut short'
        quarantined = http.post(stack.webhook_url, content=garbled,
                                headers=signed_headers(garbled, stack.webhook_signing_key)).json()  # fmt: skip
    by_metric = f"SELECT metric, COUNT(*) AS n FROM `{table}.events` GROUP BY metric ORDER BY metric"  # noqa: S608
    stored = list(client.query(by_metric).result())
    unique = unique_rows()
    funnel = [dict(r.items()) for r in client.query(f"SELECT * FROM `{table}.delivery_funnel`").result()]  # noqa: S608

    print("\n=== Reporting webhooks: sandbox → webhook-ingest → Pub/Sub → BigQuery subscription ===", file=out)
    print(f"  Customer.io (the sandbox) reported {sent} events on the demo's sends "
          f"({reported['failed']} failed attempts retried, {reported['dropped']} dropped)", file=out)  # fmt: skip
    print("  rows by metric: " + (", ".join(f"{r['metric']} {r['n']}" for r in stored) or "none"), file=out)
    print(f"  events_unique view: {unique} rows (one per event_id)", file=out)
    for row in funnel:
        print(
            f"  funnel {row['message_type']} {row['message_id']} ({row['channel']}): sent {row['sent']}, delivered "
            f"{row['delivered']}, opened {row['opened']}, clicked {row['clicked']}, bounced {row['bounced']}; "
            f"delivery rate {(row['delivery_rate'] or 0):.0%}, bounce rate {(row['bounce_rate'] or 0):.0%}",
            file=out,
        )
    print(f"  forged post → {forged}; signed but unparseable body → 200, quarantined "
          f"{quarantined.get('quarantined')} (kept whole for `customerio-gcp`)", file=out)  # fmt: skip
    return {"reported": sent, "unique_rows": unique, "funnel": funnel, "forged": forged,
            "quarantined": quarantined}  # fmt: skip


def _actions(request: dict[str, Any]) -> list[str]:
    """The operations a request carried: a v2 batch's items' actions, else its own operation."""
    if request["operation"] != "v2_batch":
        return [request["operation"]]
    batch = (request["body"] or {}).get("batch")
    return [str(op.get("action")) for op in batch if isinstance(op, dict)] if isinstance(batch, list) else []


def _label(request: dict[str, Any]) -> str:
    if request["operation"] == "v2_batch":
        counts = Counter(_actions(request))
        carried = ", ".join(f"{action} ×{n}" for action, n in sorted(counts.items()))
        some = ": some items refused" if request["status"] == 207 else ""
        return f"v2 batch [{carried}] (HTTP {request['status']}{some})"
    return f"{request['operation']} (HTTP {request['status']})"


def _ignored(request: dict[str, Any]) -> list[str]:
    """The operations an accepted request's note says were ignored (a duplicate event id, a stale
    identify): the request's own, or the batch items its note names (`3: …; 5: …`)."""
    if request["operation"] != "v2_batch":
        return [request["operation"]]
    actions = _actions(request)
    indexes = [part.split(":", 1)[0] for part in request["note"].split("; ")]
    return [actions[int(i)] for i in indexes if i.isdigit() and int(i) < len(actions)]


def print_summary(summary: dict[str, Any], out: Any) -> None:
    def block(title: str, counts: Counter[str]) -> None:
        print(f"\n{title}", file=out)
        for key, count in sorted(counts.items()) or [("(none)", 0)]:
            print(f"  {key:<40} {count if key != '(none)' else ''}", file=out)

    sandbox = summary["sandbox"]
    print("\n=== What reached Customer.io (the sandbox) ===", file=out)
    print(
        f"  people {sandbox['people']}, suppressed {sandbox['suppressed']}, deleted {sandbox['deleted']}, "
        f"events {sandbox['events']}, transactional sends {sandbox['deliveries']}",
        file=out,
    )
    published, sent = summary.get("welcome_published", 0), summary.get("welcome_sent", 0)
    if published:
        verdict = {1: "the send-once record in Firestore stopped the duplicate", 0: "NOT SENT"}.get(
            sent, "SENT MORE THAN ONCE"
        )
        print(f"  welcome email: published {published} times, sent {sent} ({verdict})", file=out)
    requests = summary.get("requests")
    if requests:
        print(
            f"  Track requests {requests['track']}: {requests['batches']} v2 batches carrying "
            f"{requests['batch_items']} operations (coalesced), {requests['track_v1']} v1",
            file=out,
        )
    block("Accepted operations (each v2 batch item counted):", summary["accepted"])
    block("Accepted but ignored as duplicates:", summary["ignored"])
    block("Retried (transient failures, redelivered by Pub/Sub):", summary["retried"])
    block("Refused by Customer.io (permanent):", summary["refused"])
    print("\n=== Dead-letter topics ===", file=out)
    for kind, letters in summary["dead_letters"].items():
        print(f"  {kind}: {len(letters)} message(s)", file=out)
        for letter in letters:
            print(
                f"    - {letter['error_class']}: {letter['reason']} (message {letter['original_message_id']})", file=out
            )


def cli_environment(stack: LocalStack) -> dict[str, str]:
    """Every setting the operator CLI (`customerio-gcp`) and an app need to work against this
    stack: the project and emulators, the sandbox's Customer.io URLs and keys, the webhook's URL
    and signing key, and the stack's name suffix if it has one."""
    assert stack.sandbox is not None, "start() first"
    assert stack.pubsub_host
    assert stack.firestore_host
    creds = stack.sandbox.credentials
    env = {
        "GOOGLE_CLOUD_PROJECT": stack.project,
        "PUBSUB_EMULATOR_HOST": stack.pubsub_host,
        "FIRESTORE_EMULATOR_HOST": stack.firestore_host,
        "CIO_TRACK_URL": stack.sandbox.url,
        "CIO_APP_URL": stack.sandbox.url,
        "CIO_SITE_ID": creds.site_id,
        "CIO_TRACK_API_KEY": creds.track_api_key,
        "CIO_APP_API_KEY": creds.app_api_key,
        "CIO_WEBHOOK_SIGNING_KEY": stack.webhook_signing_key,
        "CIO_SANDBOX_URL": stack.sandbox.url,
        # as webhook-ingest runs here (`webhooks reprocess` stores under the same rule)
        "WEBHOOK_PERSONAL_DATA": stack.function_env.get("WEBHOOK_PERSONAL_DATA", "hash"),
    }
    if stack.bigquery_endpoint:
        env |= {"BIGQUERY_ENDPOINT": stack.bigquery_endpoint, "BIGQUERY_DATASET": stack.bigquery_dataset}
    if stack.webhook_url:
        env["WEBHOOK_URL"] = stack.webhook_url
    if stack.suffix:  # the CLI's hidden --suffix, and the collections the functions use
        env |= {
            "CUSTOMERIO_GCP_SUFFIX": stack.suffix,
            "IDEMPOTENCY_COLLECTION": f"customerio_idempotency{stack.suffix}",
            "IDENTIFY_HASH_COLLECTION": f"customerio_identify_hashes{stack.suffix}",
            "TOMBSTONE_COLLECTION": f"customerio_tombstones{stack.suffix}",
        }
    return env


def print_keep_running(stack: LocalStack, out: Any = sys.stdout) -> None:
    """What `--keep-running` shows: a block to paste into another shell, and what to try there."""
    print("\nThe pipeline keeps running. Paste this into another shell (the CLI and your app read it):\n", file=out)
    for key, value in cli_environment(stack).items():
        print(f"export {key}={shlex.quote(value)}", file=out)
    print("\nThen, for example:", file=out)
    print("  customerio-gcp dlq list                 # the demo's dead letters, by reason", file=out)
    print("  customerio-gcp status", file=out)
    print("  customerio-gcp sync users users.csv     # straight to the sandbox (see docs/operations.md)", file=out)
    print("  python examples/publish.py              # publish from an app", file=out)
    print("  curl $CIO_SANDBOX_URL/_sandbox/summary  # what reached the sandbox", file=out)
    print("Ctrl-C stops every process this command started.", file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--functions-dir", type=Path, default=Path("build/functions"), help="packaged functions (make package)"
    )
    parser.add_argument("--log-dir", type=Path, default=Path(".local/logs"))
    parser.add_argument("--keep-running", action="store_true", help="stay up after the demo until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        require_gcloud()
    except MissingToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def stop_on_signal(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    print("starting: Pub/Sub, Firestore and BigQuery emulators, Customer.io sandbox, 4 functions …", flush=True)
    stack = LocalStack(functions_dir=args.functions_dir, log_dir=args.log_dir)
    try:
        stack.start()
        print(f"sandbox at {stack.sandbox.url if stack.sandbox else '?'}; logs in {args.log_dir}/", flush=True)
        run_demo(stack)
        run_webhook_demo(stack)
        if args.keep_running:
            print_keep_running(stack)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping …", flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
