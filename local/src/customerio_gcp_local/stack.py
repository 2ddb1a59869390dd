"""The whole pipeline on one machine: emulators, the sandbox, the three functions, the topology.

Used by `make run` (`customerio_gcp_local.pipeline`) and by the end-to-end tests, so both run the
same wiring. Functions run as real functions-framework processes with the environment Terraform
gives them in the cloud (topic paths, subscription, settings), pointed at the emulators and the
sandbox instead of Google and Customer.io. Messages reach the functions through one
`PullPusher` per delivery subscription, which plays Pub/Sub push (ack deadline, backoff,
dead-lettering, concurrent requests) from a pull subscription: the emulator's own push loop is
never used, since it can stall for good under sustained failures (see `local.pusher`).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.messages.models import TopicKind
from customerio_gcp.pipeline import TOPIC_KINDS, PipelineConfig
from customerio_gcp.pipeline import load as load_pipeline
from customerio_gcp.publishing import Publisher
from customerio_gcp_local import emulators
from customerio_gcp_local.bigquery_subscription import BigQuerySubscription
from customerio_gcp_local.processes import ManagedProcess, free_port, wait_for_port
from customerio_gcp_local.pusher import DEFAULT_CONCURRENCY, PullPusher
from customerio_gcp_local.topology import TopicPaths, create_topology


@dataclass
class FunctionProcess:
    kind: str
    url: str
    process: ManagedProcess


@dataclass
class LocalStack:
    """Start with `start()`, stop with `stop()` (or use it as a context manager)."""

    functions_dir: Path
    project: str = "customerio-gcp-local"
    log_dir: Path = Path(".local/logs")
    suffix: str = ""
    pubsub_host: str | None = None
    firestore_host: str | None = None
    bigquery_endpoint: str | None = None
    with_webhook: bool = True
    push_concurrency: int = DEFAULT_CONCURRENCY  # push requests in flight per subscription (PullPusher)
    webhook_signing_key: str = "local-webhook-signing-key"
    sandbox_webhooks: dict[str, Any] = field(
        default_factory=lambda: {"rates": {"delivered": 0.9, "opened": 0.6, "clicked": 0.3, "bounced": 0.1}, "seed": 7}
    )
    function_env: dict[str, str] = field(default_factory=dict)
    config: PipelineConfig = field(default_factory=lambda: load_pipeline().for_local_run())

    sandbox: Sandbox | None = None
    functions: dict[TopicKind, FunctionProcess] = field(default_factory=dict)
    webhook: ManagedProcess | None = None
    pushers: list[PullPusher] = field(default_factory=list)
    webhook_url: str | None = None
    bigquery: Any = None  # the official BigQuery client on the emulator
    bigquery_subscription: BigQuerySubscription | None = None
    topology: dict[TopicKind, TopicPaths] = field(default_factory=dict)
    _emulators: list[emulators.Emulator] = field(default_factory=list)

    def start(self) -> LocalStack:
        try:
            self._start_emulators()
            self.sandbox = Sandbox().start()
            for kind in TOPIC_KINDS:
                self.functions[kind] = self._start_function(kind)
            for function in self.functions.values():
                wait_for_port(_port_of(function.url), timeout=60, process=function.process.process)
            self.topology = create_topology(self.project, self.config, self.functions, suffix=self.suffix)
            # The only delivery path: pull, then push with Pub/Sub push's semantics (local.pusher).
            self.pushers = [
                PullPusher(
                    self.topology[kind].push_subscription, function.url, concurrency=self.push_concurrency
                ).start()
                for kind, function in self.functions.items()
            ]
            if self.with_webhook:
                self._start_webhook()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for pusher in self.pushers:
            pusher.stop()
        self.pushers.clear()
        for function in self.functions.values():
            function.process.stop()
        self.functions.clear()
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None
        if self.bigquery_subscription is not None:
            self.bigquery_subscription.stop()
            self.bigquery_subscription = None
        if self.bigquery is not None:  # after the subscription stand-in, which writes through it
            self.bigquery.close()
            self.bigquery = None
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
        for emulator in self._emulators:
            emulator.stop()
        self._emulators.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- what callers use -------------------------------------------------------------------

    @property
    def control(self) -> SandboxControl:
        assert self.sandbox is not None, "start() first"
        return SandboxControl(self.sandbox.url)

    def publisher(self) -> Publisher:
        topics = {kind: spec.topic + self.suffix for kind, spec in self.config.topics.items()}
        return Publisher(self.project, topics=topics)

    def pusher(self, kind: TopicKind) -> PullPusher:
        """The pusher delivering `kind`'s subscription to its function."""
        subscription = self.topology[kind].push_subscription
        return next(p for p in self.pushers if p.subscription == subscription)

    def pull_dead_letters(self, kind: TopicKind, *, ack: bool = False, max_messages: int = 100) -> list[Any]:
        """Messages now in `kind`'s dead-letter subscription. Without `ack` they stay there."""
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        subscription = self.topology[kind].dead_letter_subscription
        try:
            with warnings.catch_warnings():
                # Deprecated on the real service, but the emulator honours it: a pull that does not
                # wait on an empty subscription, which keeps polling loops fast.
                warnings.simplefilter("ignore", DeprecationWarning)
                request = {"subscription": subscription, "max_messages": max_messages, "return_immediately": True}
                response = subscriber.pull(request=request, timeout=10)
            received = list(response.received_messages)
            if received:
                ack_ids = [m.ack_id for m in received]
                if ack:
                    subscriber.acknowledge(subscription=subscription, ack_ids=ack_ids)
                else:
                    subscriber.modify_ack_deadline(subscription=subscription, ack_ids=ack_ids, ack_deadline_seconds=0)
            return [m.message for m in received]
        finally:
            subscriber.close()

    # --- start-up ---------------------------------------------------------------------------

    def _start_emulators(self) -> None:
        if self.pubsub_host is None:
            emulator = emulators.start_pubsub(self.project, self.log_dir)
            self._emulators.append(emulator)
            self.pubsub_host = emulator.host
        if self.firestore_host is None:
            emulator = emulators.start_firestore(self.log_dir)
            self._emulators.append(emulator)
            self.firestore_host = emulator.host
        if self.with_webhook and self.bigquery_endpoint is None:
            emulator = emulators.start_bigquery(self.project, self.log_dir)
            self._emulators.append(emulator)
            self.bigquery_endpoint = emulator.host
        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub_host
        os.environ["FIRESTORE_EMULATOR_HOST"] = self.firestore_host

    def spawn_function(self, kind: TopicKind, *, port: int | None = None) -> FunctionProcess:
        """Another process of `kind`'s function with the stack's environment (cold-start benchmarks)."""
        return self._start_function(kind, port=port)

    def _start_function(self, kind: TopicKind, *, port: int | None = None) -> FunctionProcess:
        assert self.sandbox is not None
        assert self.pubsub_host
        assert self.firestore_host
        spec = self.config.topics[kind]
        port = port or free_port()
        creds = self.sandbox.credentials
        env = {
            **os.environ,
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "GOOGLE_CLOUD_PROJECT": self.project,
            "CIO_TRACK_URL": self.sandbox.url,
            "CIO_APP_URL": self.sandbox.url,
            "CIO_SITE_ID": creds.site_id,
            "CIO_TRACK_API_KEY": creds.track_api_key,
            "CIO_APP_API_KEY": creds.app_api_key,
            "DEAD_LETTER_TOPIC": f"projects/{self.project}/topics/{spec.dead_letter_topic}{self.suffix}",
            "SOURCE_SUBSCRIPTION": f"projects/{self.project}/subscriptions/{spec.push_subscription}{self.suffix}",
            "IDEMPOTENCY_COLLECTION": f"customerio_idempotency{self.suffix}",
            "IDENTIFY_HASH_COLLECTION": f"customerio_identify_hashes{self.suffix}",
            "TOMBSTONE_COLLECTION": f"customerio_tombstones{self.suffix}",
            "THREADS": "8",
            **self.function_env,
        }
        executable = Path(sys.executable).with_name("functions-framework")
        source = self.functions_dir / spec.function / "main.py"
        env |= packaged_path(source)
        args = [str(executable), "--target", spec.function, "--source", str(source)]
        args += ["--host", "127.0.0.1", "--port", str(port)]
        process = ManagedProcess(f"function-{kind}{self.suffix}", args, log_dir=self.log_dir, env=env)
        return FunctionProcess(kind, f"http://127.0.0.1:{port}/", process)

    @property
    def bigquery_dataset(self) -> str:
        return "customerio" + self.suffix.replace("-", "_")

    def webhook_path(self, kind: str, name: str) -> str:
        """A full topic or subscription path of this stack (`kind`: topics or subscriptions)."""
        return f"projects/{self.project}/{kind}/{name}{self.suffix}"

    @property
    def webhook_events_topic(self) -> str:
        return self.webhook_path("topics", self.config.webhook.events_topic)

    @property
    def webhook_quarantine_topic(self) -> str:
        return self.webhook_path("topics", self.config.webhook.quarantine_topic)

    def _start_webhook(self) -> None:
        """webhook-ingest and where its events go: the events topic, the BigQuery subscription
        (played by `bigquery_subscription`, which the emulator lacks) into the dataset, table and
        views, the application's filtered routing subscription, and the quarantine."""
        from google.cloud import pubsub_v1

        from customerio_gcp_local.bigquery import bigquery_client, ensure_tables

        assert self.bigquery_endpoint is not None
        names = self.config.webhook
        self.bigquery = bigquery_client(self.project, self.bigquery_endpoint)
        ensure_tables(self.bigquery, self.project, self.bigquery_dataset)
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        dead_letter = self.webhook_path("topics", names.bigquery_dead_letter_topic)
        routing_dead_letter = self.webhook_path("topics", names.routing_dead_letter_topic)
        for topic in (self.webhook_events_topic, self.webhook_quarantine_topic, dead_letter, routing_dead_letter):
            publisher.create_topic(name=topic)
        subscriptions: dict[str, tuple[str, str | None, str | None]] = {  # topic, filter, dead letters
            names.bigquery_subscription: (self.webhook_events_topic, None, None),
            # Stored with its filter; the emulator does not apply filters (`local-gcp.md`).
            names.routing_subscription: (self.webhook_events_topic, names.routing_filter, routing_dead_letter),
            names.quarantine_subscription: (self.webhook_quarantine_topic, None, None),
            names.bigquery_dead_letter_subscription: (dead_letter, None, None),
            names.routing_dead_letter_subscription: (routing_dead_letter, None, None),
        }
        for name, (topic, expression, dead_letters) in subscriptions.items():
            request: dict[str, Any] = {"name": self.webhook_path("subscriptions", name), "topic": topic}
            if expression:
                request["filter"] = expression
            if dead_letters:  # the routing subscription, with Terraform's policies
                delivery = self.config.delivery
                request["dead_letter_policy"] = {
                    "dead_letter_topic": dead_letters,
                    "max_delivery_attempts": delivery.max_delivery_attempts,
                }
                request["retry_policy"] = {
                    "minimum_backoff": {"seconds": delivery.minimum_backoff_s},
                    "maximum_backoff": {"seconds": delivery.maximum_backoff_s},
                }
            subscriber.create_subscription(request=request)
        subscriber.close()
        self.bigquery_subscription = BigQuerySubscription(
            self.webhook_path("subscriptions", names.bigquery_subscription),
            f"{self.project}.{self.bigquery_dataset}.events",
            dead_letter,
            self.bigquery,
        ).start()
        port = free_port()
        webhook = self.spawn_webhook(port=port)
        wait_for_port(port, timeout=60, process=webhook.process.process)
        self.webhook = webhook.process
        self.webhook_url = webhook.url
        # Customer.io's side of the loop: the sandbox reports on every send it accepts, signed and
        # in order, to webhook-ingest, retrying and holding later events as Customer.io does.
        self.control.set_webhooks(self.webhook_url, self.webhook_signing_key, **self.sandbox_webhooks)

    def emulator_processes(self) -> list[int]:
        """The emulators' process ids (benchmarks keep them off the measured instance's core)."""
        return [emulator.process.process.pid for emulator in self._emulators]

    def spawn_webhook(self, *, port: int | None = None, env: Mapping[str, str] | None = None) -> FunctionProcess:
        """A webhook-ingest process with the stack's environment and `env` (benchmarks)."""
        port = port or free_port()
        env = {
            **os.environ,
            "PUBSUB_EMULATOR_HOST": self.pubsub_host or "",
            "GOOGLE_CLOUD_PROJECT": self.project,
            "CIO_WEBHOOK_SIGNING_KEY": self.webhook_signing_key,
            "WEBHOOK_EVENTS_TOPIC": self.webhook_events_topic,
            "WEBHOOK_QUARANTINE_TOPIC": self.webhook_quarantine_topic,
            # one gunicorn thread per concurrent request, for the benchmark's 32 senders to one
            # process (Terraform deploys `functions.webhook_concurrency`, 20 by default)
            "THREADS": "32",
            **self.function_env,
            **(env or {}),
        }
        executable = Path(sys.executable).with_name("functions-framework")
        source = self.functions_dir / "webhook_ingest" / "main.py"
        env |= packaged_path(source)
        args = [str(executable), "--target", "webhook_ingest", "--source", str(source)]
        args += ["--host", "127.0.0.1", "--port", str(port)]
        process = ManagedProcess(f"function-webhook{self.suffix}-{port}", args, log_dir=self.log_dir, env=env)
        return FunctionProcess("webhook_ingest", f"http://127.0.0.1:{port}/", process)

    def crash_function_worker(self, kind: TopicKind) -> int:
        """SIGKILL the process serving `kind` (gunicorn's worker): requests in flight die with it,
        and the master starts a fresh worker, as Cloud Run replaces a crashed instance."""
        master = self.functions[kind].process.process.pid
        workers = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent_of(int(entry.name)) == master
        ]
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        return len(workers)

    def restart_function(self, kind: TopicKind) -> None:
        """Kill a function process and start a fresh one on the same port: a crashed instance."""
        old = self.functions[kind]
        old.process.stop()
        port = _port_of(old.url)
        self.functions[kind] = self._start_function(kind, port=port)
        wait_for_port(port, timeout=60, process=self.functions[kind].process.process)


def packaged_path(main: Path) -> dict[str, str]:
    """Run a packaged function (`make package` unpacks each zip to build/functions/<name>/) on
    its own copy of the runtime and nothing else of it (`packaged_only/sitecustomize.py` takes the
    editable install off sys.path), so what runs locally is what deploys. A plain
    `functions/<name>/` source runs the installed runtime."""
    tree = main.parent
    if not (tree / "customerio_gcp").is_dir():
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(tree), str(Path(__file__).parent / "packaged_only")])}


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def wait_until(condition: Any, *, timeout: float, interval: float = 0.25) -> bool:
    """Poll `condition()` until it is truthy or `timeout` passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return bool(result)
        time.sleep(interval)
