"""Coalescing on the local stack (issue 14): identify + track messages published to Pub/Sub and
delivered through the packaged functions to the sandbox, which enforces Customer.io's 100 req/s
Track limit; once with `TRACK_COALESCE=false` (one request per message), once with it on.

Each function runs as Terraform deploys it: 80 concurrent requests (`THREADS`), its Track pace
`CIO_TRACK_RPS_PER_INSTANCE` = 50 (half the budget each, one instance). Pub/Sub push with that
concurrency is played by `FanOutPusher` instead of the stack's `PullPusher` (16 requests in
flight, with Pub/Sub's backoff and dead-lettering, which a backlog drained at full speed does not
need): it pulls in bulk, keeps up to `concurrency` push requests in flight, acks on 2xx (in
bulk) and nacks otherwise, as a push subscription does. It posts over one keep-alive
connection per thread (`customerio_gcp_local.connections`): through a shared 80-connection httpx
pool, this process used 3.9 ms of CPU per message (pool bookkeeping, mostly), as much as a
function; now about 0.8.

Then the same messages through the two functions' handlers in this process (`delivery_layer`):
the delivery layer at load, without the emulators' and function processes' CPU, which on a
shared 2-core machine caps the end-to-end runs far below what coalescing allows.

Reported per run: messages/s end to end (first publish → last message accepted), Track requests
per 1,000 messages (429s included), 429s, p50/p99 publish → accepted latency, lost (neither
applied in the sandbox nor dead-lettered) and duplicates (applied more than once), and the CPU
each part used until the last message was accepted (functions per message; this process,
the Pub/Sub and the Firestore emulators in all).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from customerio_gcp_local import emulators
from customerio_gcp_local.connections import ConnectionFailed, ThreadConnections
from customerio_gcp_local.stack import LocalStack

from bench.measure import cpu_seconds

PROJECT = "customerio-gcp-bench"


class FanOutPusher:
    """A push subscription delivering to one function with `concurrency` requests in flight."""

    def __init__(self, subscription: str, endpoint: str, *, concurrency: int) -> None:
        self.subscription = subscription
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.accepted: dict[str, int] = {}  # message id -> times answered 2xx
        self.latencies: list[float] = []
        self.failed_attempts: dict[str, int] = {}  # status or exception class -> count
        self.last_accept = 0.0
        self._lock = threading.Lock()
        self._acks: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fan-out-pusher", daemon=True)

    def start(self) -> FanOutPusher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        slots = threading.Semaphore(self.concurrency)
        http = ThreadConnections(self.endpoint, timeout=60)
        with ThreadPoolExecutor(self.concurrency) as pool:
            while not self._stop.is_set():
                self._flush_acks(subscriber)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    request = {"subscription": self.subscription, "max_messages": 100, "return_immediately": True}
                    try:
                        received = list(subscriber.pull(request=request, timeout=10).received_messages)
                    except Exception:
                        self._stop.wait(0.1)
                        continue
                if not received:
                    self._stop.wait(0.02)
                    continue
                for item in received:
                    slots.acquire()
                    pool.submit(self._deliver, subscriber, http, item, slots)
            self._flush_acks(subscriber)
        subscriber.close()

    def _flush_acks(self, subscriber: Any) -> None:
        with self._lock:
            acks, self._acks = self._acks, []
        if acks:
            subscriber.acknowledge(request={"subscription": self.subscription, "ack_ids": acks})

    def _deliver(self, subscriber: Any, http: ThreadConnections, item: Any, slots: threading.Semaphore) -> None:
        try:
            message = item.message
            envelope: dict[str, Any] = {
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
                "publishTime": message.publish_time.isoformat(),
                "data": base64.b64encode(message.data).decode(),
            }
            body = {"message": envelope, "subscription": self.subscription, "deliveryAttempt": item.delivery_attempt}
            try:
                status = http.post_json(json.dumps(body).encode())
                outcome = str(status)
                ok = 200 <= status < 300
            except ConnectionFailed as error:
                outcome, ok = type(error).__name__, False
            now = time.time()
            if ok:
                with self._lock:
                    self._acks.append(item.ack_id)
                    self.accepted[message.message_id] = self.accepted.get(message.message_id, 0) + 1
                    self.latencies.append(now - message.publish_time.timestamp())
                    self.last_accept = now
            else:
                with self._lock:
                    self.failed_attempts[outcome] = self.failed_attempts.get(outcome, 0) + 1
                request = {"subscription": self.subscription, "ack_ids": [item.ack_id], "ack_deadline_seconds": 0}
                subscriber.modify_ack_deadline(request=request)
        finally:
            slots.release()


def messages(run: str, count: int) -> list[dict[str, Any]]:
    """`count` messages, half identify and half track, interleaved, each about its own person."""
    stamp = int(time.time())
    out: list[dict[str, Any]] = []
    for i in range(count // 2):
        who = {"id": f"{run}-{i}"}
        out.append({"op": "identify", "identifiers": who, "attributes": {"plan": "pro", "n": i}})
        out.append({"op": "event", "identifiers": who, "name": "checkout", "timestamp": stamp,
                    "event_id": f"{run}-order-{i}", "data": {"total": i}})  # fmt: skip
    return out


def one_run(
    functions_dir: Path,
    log_dir: Path,
    hosts: tuple[str, str],
    *,
    coalesce: bool,
    count: int,
    concurrency: int,
    emulator_pgid: int | None = None,
    firestore_pgid: int | None = None,
) -> dict[str, Any]:
    run = f"co{'on' if coalesce else 'off'}{uuid.uuid4().hex[:4]}"
    env = {
        "LOG_LEVEL": "WARNING",
        "THREADS": str(concurrency),
        "TRACK_COALESCE": "true" if coalesce else "false",
        "CIO_TRACK_RPS_PER_INSTANCE": "50",
        "TOMBSTONE_COLLECTION": f"customerio_tombstones-{run}",
    }
    stack = LocalStack(functions_dir=functions_dir, project=PROJECT, log_dir=log_dir, suffix=f"-{run}",
                       pubsub_host=hosts[0], firestore_host=hosts[1], with_webhook=False,
                       function_env=env).start()  # fmt: skip
    try:
        for pull_pusher in stack.pushers:  # replaced by pushers with the deployed concurrency
            pull_pusher.stop()
        stack.pushers.clear()
        pushers = {
            kind: FanOutPusher(
                stack.topology[kind].push_subscription, stack.functions[kind].url, concurrency=concurrency
            )
            for kind in ("identify", "track")
        }
        for pusher in pushers.values():
            pusher.start()
        batch = messages(run, count)
        publisher = stack.publisher()
        groups = {kind: f.process.process.pid for kind, f in stack.functions.items() if kind != "transactional"}
        cpu_before = {kind: cpu_seconds(pgid) for kind, pgid in groups.items()}
        bench_cpu = time.process_time()
        emulator_cpu = cpu_seconds(emulator_pgid) if emulator_pgid else 0.0
        firestore_cpu = cpu_seconds(firestore_pgid) if firestore_pgid else 0.0
        started = time.time()
        publisher.publish_many(batch)
        deadline = time.monotonic() + max(600.0, count / 20)
        while time.monotonic() < deadline:
            done = sum(len(p.accepted) for p in pushers.values())
            if done >= count:
                break
            time.sleep(0.5)
        # CPU until the last message was accepted (not the accounting queries below)
        cpu = {kind: cpu_seconds(pgid) - cpu_before[kind] for kind, pgid in groups.items()}
        bench_cpu = time.process_time() - bench_cpu
        emulator_cpu = cpu_seconds(emulator_pgid) - emulator_cpu if emulator_pgid else 0.0
        firestore_cpu = cpu_seconds(firestore_pgid) - firestore_cpu if firestore_pgid else 0.0
        for pusher in pushers.values():
            pusher.stop()
        accepted = sum(len(p.accepted) for p in pushers.values())
        elapsed = max(p.last_accept for p in pushers.values()) - started
        latencies = sorted(latency for p in pushers.values() for latency in p.latencies)
        control = stack.control
        summary = control.summary()
        identified = control.applied_count("identify")
        events = control.applied_count("event")
        dead = sum(len(stack.pull_dead_letters(kind, max_messages=1000)) for kind in ("identify", "track"))
        people = {f"{run}-{i}" for i in range(count // 2)}
        orders = [m for m in batch if m["op"] == "event"]
        lost_identifies = len(people - set(identified))
        ignored_repeats = sum(str(r.get("note", "")).count("duplicate event id") for r in control.requests())
        applied_events = sum(1 for n in events.values() if n)
        return {
            "coalesce": coalesce,
            "messages": count,
            "accepted": accepted,
            "elapsed_s": elapsed,
            "messages_per_s": accepted / elapsed if elapsed > 0 else 0.0,
            "track_requests": summary["requests"],
            "requests_per_1000": summary["requests"] / count * 1000,
            "rate_limited": sum(summary["rate_limited"].values()),
            "p50_ms": _percentile(latencies, 50) * 1000,
            "p99_ms": _percentile(latencies, 99) * 1000,
            "dead_lettered": dead,
            "lost": lost_identifies + max(0, len(orders) - applied_events) - dead,
            "duplicates": sum(n - 1 for n in identified.values() if n > 1)
            + sum(n - 1 for n in events.values() if n > 1),
            "event_repeats_ignored_by_ulid": ignored_repeats,
            "redelivered_after_2xx": sum(n - 1 for p in pushers.values() for n in p.accepted.values() if n > 1),
            "function_cpu_ms_per_message": {kind: seconds / (count / 2) * 1000 for kind, seconds in cpu.items()},
            "failed_push_attempts": {kind: dict(p.failed_attempts) for kind, p in pushers.items() if p.failed_attempts},
            "bench_process_cpu_s": bench_cpu,
            "pubsub_emulator_cpu_s": emulator_cpu if emulator_pgid else None,
            "firestore_emulator_cpu_s": firestore_cpu if firestore_pgid else None,
        }
    finally:
        stack.stop()


def coalescing(functions_dir: Path, log_dir: Path, *, count: int, concurrency: int) -> dict[str, Any]:
    pubsub = emulators.start_pubsub(PROJECT, log_dir)
    firestore = emulators.start_firestore(log_dir)
    try:
        hosts = (pubsub.host, firestore.host)
        options: dict[str, Any] = {
            "count": count,
            "concurrency": concurrency,
            "emulator_pgid": pubsub.process.process.pid,
            "firestore_pgid": firestore.process.process.pid,
        }
        off = one_run(functions_dir, log_dir, hosts, coalesce=False, **options)
        on = one_run(functions_dir, log_dir, hosts, coalesce=True, **options)
    finally:
        pubsub.stop()
        firestore.stop()
    layer = {
        mode: delivery_layer(count=count, concurrency=concurrency, coalesce=mode == "on") for mode in ("off", "on")
    }
    return {
        "off": off,
        "on": on,
        "speedup": on["messages_per_s"] / max(off["messages_per_s"], 1e-9),
        "delivery_layer": layer
        | {"speedup": layer["on"]["messages_per_s"] / max(layer["off"]["messages_per_s"], 1e-9)},
    }


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def delivery_layer(*, count: int, concurrency: int, coalesce: bool) -> dict[str, Any]:
    """The same messages through the identify and track functions' own handlers (built by their
    wiring, in this process, in-memory stores), `concurrency` push requests at once per function,
    against a sandbox enforcing 100 req/s: what the delivery layer does at load, without the local
    emulators' and processes' CPU cost on this 2-core machine."""
    from customerio_gcp_local.push import cloud_event_data, push_body
    from customerio_sandbox import Sandbox, SandboxControl

    from customerio_gcp.observability import configure_logging
    from customerio_gcp.settings import Settings
    from customerio_gcp.wiring import identify, track

    configure_logging("ERROR", open(os.devnull, "w"))  # noqa: SIM115 - for the whole benchmark
    run = f"dl{'on' if coalesce else 'off'}{uuid.uuid4().hex[:4]}"
    with Sandbox() as sandbox:
        creds = sandbox.credentials
        env = {
            "CIO_TRACK_URL": sandbox.url,
            "CIO_APP_URL": sandbox.url,
            "CIO_SITE_ID": creds.site_id,
            "CIO_TRACK_API_KEY": creds.track_api_key,
            "CIO_APP_API_KEY": creds.app_api_key,
            "IDEMPOTENCY_BACKEND": "memory",
            "LOG_LEVEL": "ERROR",
            "TRACK_COALESCE": "true" if coalesce else "false",
            "CIO_TRACK_RPS_PER_INSTANCE": "50",
            **{k: v for k, v in os.environ.items() if k.startswith("TRACK_COALESCE_")},
        }
        handlers = {"identify": identify.build(Settings.from_env(env)), "track": track.build(Settings.from_env(env))}
        work: dict[str, list[Any]] = {"identify": [], "track": []}
        for n, message in enumerate(messages(run, count)):
            kind = "identify" if message["op"] == "identify" else "track"
            work[kind].append(cloud_event_data(push_body(json.dumps(message).encode(), message_id=f"{run}-{n}")))
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        lock = threading.Lock()

        def deliver(kind: str, body: Any) -> None:
            started = time.perf_counter()
            try:
                outcome = str(handlers[kind](body))
            except Exception as error:  # the function would answer 500; Pub/Sub would redeliver
                outcome = type(error).__name__
            with lock:
                latencies.append(time.perf_counter() - started)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as identify_pool, ThreadPoolExecutor(concurrency) as track_pool:
            pools = {"identify": identify_pool, "track": track_pool}
            futures = [pools[kind].submit(deliver, kind, body) for kind in ("identify", "track") for body in work[kind]]
            for future in futures:
                future.result()
        elapsed = time.perf_counter() - started
        control = SandboxControl(sandbox.url)
        summary = control.summary()
        identified = control.applied_count("identify")
        events = control.applied_count("event")
        latencies.sort()
        delivered = outcomes.get("delivered", 0)
        return {
            "coalesce": coalesce,
            "messages": count,
            "delivered": delivered,
            "outcomes": outcomes,
            "elapsed_s": elapsed,
            "messages_per_s": delivered / elapsed,
            "track_requests": summary["requests"],
            "requests_per_1000": summary["requests"] / count * 1000,
            "rate_limited": sum(summary["rate_limited"].values()),
            "p50_ms": _percentile(latencies, 50) * 1000,
            "p99_ms": _percentile(latencies, 99) * 1000,
            "lost": count - len(identified) - len(events),
            "duplicates": sum(n - 1 for n in identified.values() if n > 1),
        }
