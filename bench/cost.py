"""`make cost`: dollars per million delivered messages and per million webhook events.

Measures each function process on this machine (CPU time, instance time per message when kept
busy, peak memory, log bytes) at concurrency 1 and at the default concurrency, and identify and
track also at the concurrency Terraform deploys them with (80, coalescing their Track requests),
with Customer.io answering in `--latency-ms` (the sandbox is slowed to a realistic answer time),
then prices the figures with Google Cloud list prices kept below as dated constants. The skip-unchanged section
prices what identify's attribute-hash check saves. Figures, not assertions: machines are noisy.

    .venv/bin/python -m bench.cost [--latency-ms 150] [--messages 160]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from customerio_gcp_local.connections import ThreadConnections
from customerio_gcp_local.push import push_body
from customerio_gcp_local.stack import LocalStack

from bench.measure import Run, push
from customerio_gcp.pipeline import load as load_pipeline
from customerio_gcp.webhooks.signature import signed_headers

ROOT = Path(__file__).resolve().parents[1]

# --- Google Cloud list prices (USD), as published on 2025-06-01 for Tier 1 regions ------------------
PRICES_AS_OF = "2025-06-01"
VCPU_SECOND = 0.000024  # Cloud Run functions / Cloud Run, request-based billing
GIB_SECOND = 0.0000025
PER_REQUEST = 0.40 / 1_000_000
PUBSUB_PER_BYTE = 40 / 2**40  # message delivery, $40 per TiB, publish and subscribe each billed
PUBSUB_MIN_BYTES = 1000  # each publish and each push delivery counts at least 1000 bytes
FIRESTORE_READ = 0.03 / 100_000  # Standard edition, regional
FIRESTORE_WRITE = 0.09 / 100_000
FIRESTORE_DELETE = 0.01 / 100_000
BIGQUERY_STREAMING_PER_BYTE = 0.01 / (200 * 2**20)  # legacy streaming inserts, min 1 KB per row
BIGQUERY_MIN_ROW_BYTES = 1024
LOGGING_PER_BYTE = 0.50 / 2**30  # Cloud Logging ingestion beyond the free 50 GiB per project-month
# Cloud Logging bills more than the line a function prints: "the billable volume includes bytes
# that are required for serialization and metadata" (cloud.google.com/logging/docs/analyze/
# log-volume) — the resource and its labels, the log name, timestamps, the instance id. An
# estimate; Log Analytics' `storage_bytes` shows the real figure for a project.
LOG_ENTRY_OVERHEAD_BYTES = 400
# Cloud Run's request log entry (run.googleapis.com/requests) adds httpRequest (method, URL, sizes,
# status, latency, user agent, addresses) and a trace to the same metadata: an estimate.
REQUEST_LOG_ENTRY_BYTES = 700

# --- what Terraform deploys (terraform/variables.tf defaults) -----------------------------------------
VCPU = 1.0
MEMORY_GIB = 0.25
DEFAULT_CONCURRENCY = 8
TRACK_CONCURRENCY = 80  # identify and track (functions.track_concurrency): they coalesce (TRACK_COALESCE)
COALESCING = ("identify", "track")
SUCCESS_LOG_SAMPLING = 0.1  # success_log_sampling: the share of success lines kept in the log bucket
SAMPLED_LOGS = ("identify", "track", "webhook")  # success_log_functions; transactional keeps every line
WEBHOOK_ROUTED_SHARE = 0.10  # share of webhook events published to the app's topic (bounces etc.)

# Firestore operations per delivered message (read from the code paths). Every delivery function
# first looks up the person's deletion tombstone (people.tombstones): a document-id `in` query,
# billed one read per document returned with a minimum of one per query. One read per message is
# what a lookup alone costs, and an upper bound: concurrent lookups that find nothing share one
# query per 30, which this process cannot see from outside the function.
FIRESTORE_OPS = {
    # identify: the tombstone. Coalescing (as deployed, and in every row here) it does not check
    # attribute hashes (docs/coalescing.md); uncoalesced it adds a read and a write per identify.
    "identify": {"reads": 1, "writes": 0, "deletes": 0},
    "track": {"reads": 1, "writes": 0, "deletes": 0},
    # the tombstone; send-once record: create (IN_PROGRESS), then a transaction reading and setting COMPLETED
    "transactional": {"reads": 2, "writes": 2, "deletes": 0},
    "webhook": {"reads": 0, "writes": 0, "deletes": 0},
}


def billable_log_bytes(path: Path, start: int, *, sampled: bool) -> float:
    """What Cloud Logging would bill for the lines written to `path` after byte `start`: each line
    with its metadata; of a `sampled` function's success lines (pipeline.json
    logging.success_lines, INFO) only the share Terraform's exclusion keeps; everything else whole."""
    pipeline = load_pipeline()
    billed = 0.0
    with path.open("rb") as log:
        log.seek(start)
        for raw in log:
            try:
                entry = json.loads(raw)
            except ValueError:  # not a structured line (a server's own output): billed whole
                entry = {}
            if not isinstance(entry, dict):
                entry = {}
            kept = SUCCESS_LOG_SAMPLING if sampled and pipeline.is_success_line(entry) else 1.0
            billed += (len(raw) + LOG_ENTRY_OVERHEAD_BYTES) * kept
    return billed


def request_log_bytes(statuses: dict[int, int], *, sampled: bool) -> float:
    """Cloud Run's request log: one entry per request (each push, each webhook POST), which the
    bench's processes do not write; of a `sampled` function's requests answered below 400 only the
    share Terraform's exclusion keeps."""
    billed = 0.0
    for status, count in statuses.items():
        kept = SUCCESS_LOG_SAMPLING if sampled and 0 < status < 400 else 1.0
        billed += count * REQUEST_LOG_ENTRY_BYTES * kept
    return billed


def log_bytes_per_message(kind: str, log: Path, start: int, run: Run) -> float:
    """What Cloud Logging bills per message of `run`: the function's lines written after byte
    `start` and Cloud Run's request log entries (the warm-up's lines count, as before)."""
    sampled = kind in SAMPLED_LOGS
    lines = billable_log_bytes(log, start, sampled=sampled)
    return (lines + request_log_bytes(run.statuses, sampled=sampled)) / (run.messages + 1)


@dataclass(frozen=True)
class Measured:
    kind: str
    run: Run
    payload_bytes: int
    log_bytes_per_message: float


def message_bodies(kind: str, count: int) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    bodies = []
    for i in range(count):
        who = {"id": f"cost-{run}-{i}"}
        message: dict[str, Any]
        if kind == "identify":
            message = {
                "op": "identify",
                "identifiers": who,
                "attributes": {"plan": "pro", "seats": i % 9, "country": "FR"},
            }
        elif kind == "track":
            message = {
                "op": "event",
                "identifiers": who,
                "name": "checkout_completed",
                "timestamp": 1_767_225_600 + i,
                "data": {"total": 42.5, "currency": "EUR", "items": 3},
            }
        else:
            message = {
                "op": "send_email",
                "transactional_message_id": 3,
                "to": f"{who['id']}@example.com",
                "identifiers": who,
                "message_data": {"order": i},
                "idempotency_key": f"receipt-{run}-{i}",
            }
        bodies.append(push_body(json.dumps(message).encode(), message_id=f"{run}-{i}"))
    return bodies


def webhook_events(count: int) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    metrics = ["sent", "delivered", "opened", "clicked", "bounced"]
    return [
        {
            "event_id": f"cost-{run}-{i}",
            "object_type": "email",
            "metric": metrics[i % 5],
            "timestamp": int(time.time()),
            "data": {
                "delivery_id": f"d-{i}",
                "campaign_id": 7,
                "recipient": f"p{i}@example.com",
                "identifiers": {"id": f"p{i}"},
                "subject": "Your receipt",
            },
        }
        for i in range(count)
    ]


def measure(stack: LocalStack, concurrency: int, count: int, kinds: tuple[str, ...] | None = None) -> list[Measured]:
    """Each function of `kinds` (all, and webhook-ingest, by default) kept busy with `concurrency`
    requests at once (each client thread on its own keep-alive connection)."""
    results = []
    connections: dict[str, ThreadConnections] = {}

    def post(_client: Any, url: str, body: dict[str, Any]) -> int:
        if url not in connections:
            connections[url] = ThreadConnections(url, timeout=60)
        return connections[url].post_json(json.dumps(body).encode())

    for kind, function in stack.functions.items():
        if kinds is not None and kind not in kinds:
            continue
        bodies = message_bodies(kind, count)
        log = function.process.log_path
        before = log.stat().st_size if log.exists() else 0
        run = push(function.url, bodies, concurrency, function.process.process.pid, post=post)
        payload = len(json.dumps(bodies[0]["message"]["data"]))  # base64 of the message, as Pub/Sub carries it
        results.append(Measured(kind, run, payload, log_bytes_per_message(kind, log, before, run)))
    if kinds is not None and "webhook" not in kinds:
        return results

    assert stack.webhook is not None, "the stack was started without webhook-ingest"
    assert stack.webhook_url is not None
    key = stack.webhook_signing_key

    def post_signed(client: Any, url: str, event: dict[str, Any]) -> int:
        body = json.dumps(event).encode()
        return int(client.post(url, content=body, headers=signed_headers(body, key)).status_code)

    events = webhook_events(count)
    log = stack.webhook.log_path
    before = log.stat().st_size if log.exists() else 0
    run = push(stack.webhook_url, events, concurrency, stack.webhook.process.pid, post=post_signed)
    results.append(
        Measured("webhook", run, len(json.dumps(events[0])), log_bytes_per_message("webhook", log, before, run))
    )
    return results


def dollars_per_million(m: Measured) -> dict[str, float]:
    compute = m.run.billed_s_per_message * (VCPU * VCPU_SECOND + MEMORY_GIB * GIB_SECOND)
    ops = FIRESTORE_OPS[m.kind]
    firestore = ops["reads"] * FIRESTORE_READ + ops["writes"] * FIRESTORE_WRITE + ops["deletes"] * FIRESTORE_DELETE
    if m.kind == "webhook":
        pubsub = WEBHOOK_ROUTED_SHARE * 2 * max(PUBSUB_MIN_BYTES, m.payload_bytes) * PUBSUB_PER_BYTE
        bigquery = max(BIGQUERY_MIN_ROW_BYTES, 2 * m.payload_bytes) * BIGQUERY_STREAMING_PER_BYTE  # typed columns + raw
    else:
        pubsub = 2 * max(PUBSUB_MIN_BYTES, m.payload_bytes) * PUBSUB_PER_BYTE  # publish + push delivery
        bigquery = 0.0
    parts = {
        "compute": compute,
        "requests": PER_REQUEST,
        "pubsub": pubsub,
        "firestore": firestore,
        "bigquery": bigquery,
        "logging": m.log_bytes_per_message * LOGGING_PER_BYTE,
    }
    return {k: v * 1_000_000 for k, v in parts.items()}


def start_stack(concurrency: int, latency_ms: float, *, with_webhook: bool = True) -> LocalStack:
    stack = LocalStack(
        functions_dir=ROOT / "build" / "functions",
        log_dir=ROOT / ".local" / f"cost-c{concurrency}",
        suffix=f"-cost{concurrency}",
        with_webhook=with_webhook,
        function_env={"THREADS": str(concurrency), "LOG_LEVEL": "INFO"},
    ).start()
    stack.control.set_faults({"slow_rate": 1.0, "slow_seconds": latency_ms / 1000})
    return stack


def report(
    results: dict[int, list[Measured]], latency_ms: float, skipped_share: float, out: Any = sys.stdout
) -> dict[str, Any]:
    print(f"\nCost model — list prices as of {PRICES_AS_OF}; {VCPU:g} vCPU, {MEMORY_GIB * 1024:.0f} MiB per instance; "
          f"Customer.io answering in {latency_ms:.0f} ms (sandbox)", file=out)  # fmt: skip
    header = (
        f"{'function':<14}{'C':>3}{'cpu ms/msg':>12}{'inst ms/msg':>13}{'peak MiB':>10}{'$/M total':>11}"
        f"{'compute':>9}{'pubsub':>8}{'firestore':>10}{'bq':>6}{'logs':>6}"
    )
    print(header, file=out)
    summary: dict[str, Any] = {"prices_as_of": PRICES_AS_OF, "latency_ms": latency_ms, "functions": {}}
    for concurrency, measured in sorted(results.items()):
        for m in measured:
            cost = dollars_per_million(m)
            total = sum(cost.values())
            summary["functions"].setdefault(m.kind, {})[concurrency] = {
                "cpu_ms_per_message": round(m.run.cpu_ms_per_message, 3),
                "instance_ms_per_message": round(m.run.billed_s_per_message * 1000, 3),
                "peak_rss_mib": round(m.run.peak_rss_mib, 1),
                "dollars_per_million": round(total, 2),
                "breakdown": {k: round(v, 3) for k, v in cost.items()},
                "statuses": m.run.statuses,
            }
            print(
                f"{m.kind:<14}{concurrency:>3}{m.run.cpu_ms_per_message:>12.2f}"
                f"{m.run.billed_s_per_message * 1000:>13.1f}"
                f"{m.run.peak_rss_mib:>10.0f}{total:>11.2f}{cost['compute']:>9.2f}{cost['pubsub']:>8.2f}"
                f"{cost['firestore']:>10.2f}{cost['bigquery']:>6.2f}{cost['logging']:>6.2f}",
                file=out,
            )
    print(f"\nConcurrency saving ($ per million, concurrency 1 → {DEFAULT_CONCURRENCY}, and → {TRACK_CONCURRENCY} "
          "for identify and track, as deployed, coalescing):", file=out)  # fmt: skip
    for kind, by_c in summary["functions"].items():
        if 1 in by_c and DEFAULT_CONCURRENCY in by_c:
            one, many = by_c[1]["dollars_per_million"], by_c[DEFAULT_CONCURRENCY]["dollars_per_million"]
            line = f"  {kind:<14} {one:>8.2f} → {many:>7.2f}   ({one / many:.1f}× cheaper)"
            if TRACK_CONCURRENCY in by_c:
                most = by_c[TRACK_CONCURRENCY]["dollars_per_million"]
                line += f" → {most:>6.2f} at {TRACK_CONCURRENCY} ({one / most:.1f}× cheaper)"
            print(line, file=out)

    # Skipping unchanged identifies: Track requests saved, against the Firestore read it adds.
    per_million_requests_saved = skipped_share * 1_000_000
    budget_hours_saved = per_million_requests_saved / 100 / 3600
    print(
        f"\nSkip unchanged identifies, with {skipped_share:.0%} of identifies unchanged (a typical nightly re-sync):\n"
        f"  Track API requests per million identifies: {1_000_000:,} → {1_000_000 - per_million_requests_saved:,.0f} "
        f"(saves {budget_hours_saved:.1f} h of a 100 req/s budget)\n"
        f"  cost of the check: one Firestore read per identify (${FIRESTORE_READ * 1e6:.2f}/M) and one write per sent "
        f"identify (${FIRESTORE_WRITE * 1e6 * (1 - skipped_share):.2f}/M); a skipped identify also skips the "
        f"{latency_ms:.0f} ms Customer.io call, so its instance time falls by the same share",
        file=out,
    )
    summary["skip_unchanged"] = {
        "unchanged_share": skipped_share,
        "requests_saved_per_million": per_million_requests_saved,
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make cost", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--messages", type=int, default=160, help="messages per function at the default concurrency")
    parser.add_argument("--unchanged-share", type=float, default=0.7)
    parser.add_argument("--json", type=Path, default=ROOT / ".local" / "cost.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("CI", "")
    results: dict[int, list[Measured]] = {}
    for concurrency, count in ((1, max(20, args.messages // 8)), (DEFAULT_CONCURRENCY, args.messages)):
        print(f"measuring at concurrency {concurrency} ({count} messages per function) …", flush=True)
        stack = start_stack(concurrency, args.latency_ms)
        try:
            results[concurrency] = measure(stack, concurrency, count)
        finally:
            stack.stop()
    count = args.messages * 5  # enough to keep 80 requests in flight for a while
    print(f"measuring identify and track at concurrency {TRACK_CONCURRENCY}, coalescing ({count} messages each) …",
          flush=True)  # fmt: skip
    stack = start_stack(TRACK_CONCURRENCY, args.latency_ms, with_webhook=False)
    try:
        results[TRACK_CONCURRENCY] = measure(stack, TRACK_CONCURRENCY, count, kinds=COALESCING)
    finally:
        stack.stop()
    summary = report(results, args.latency_ms, args.unchanged_share)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2))
    print(f"\n(figures also in {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
