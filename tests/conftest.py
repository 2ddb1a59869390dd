"""Fixtures that start real parts: the Pub/Sub and Firestore emulators, the Customer.io sandbox.

Emulators start once per test session on free ports and are stopped at the end; each test gets
its own sandbox (a fresh workspace on its own port) and its own topic or collection names, so
tests do not see each other's data.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from customerio_gcp_local import emulators
from customerio_gcp_local.stack import LocalStack
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio import AppClient, TrackClient
from customerio_gcp.customerio.transport import RetryPolicy
from customerio_gcp.observability import configure_logging

PROJECT = "customerio-gcp-test"
REPO = Path(__file__).resolve().parents[1]
LOG_DIR = Path(os.environ.get("TEST_LOG_DIR", "/tmp/customerio-gcp-test-logs"))


def no_sleep_retry(attempts: int = 3) -> RetryPolicy:
    """Real retry decisions without real waiting (the decisions are what tests check)."""
    return RetryPolicy(attempts=attempts, sleep=lambda _seconds: None)


@contextmanager
def running(emulator: emulators.Emulator, variable: str) -> Iterator[str]:
    """Point Google's clients at `emulator` through `variable` while it runs, then restore."""
    previous = os.environ.get(variable)
    os.environ[variable] = emulator.host
    try:
        yield emulator.host
    finally:
        emulator.stop()
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    with running(emulators.start_pubsub(PROJECT, LOG_DIR), "PUBSUB_EMULATOR_HOST") as host:
        yield host


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    with running(emulators.start_firestore(LOG_DIR), "FIRESTORE_EMULATOR_HOST") as host:
        yield host


@pytest.fixture
def firestore_client(firestore_emulator: str):
    from google.cloud import firestore

    client = firestore.Client(project=PROJECT)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def control(sandbox: Sandbox) -> Iterator[SandboxControl]:
    ctl = SandboxControl(sandbox.url)
    yield ctl
    ctl.close()


@pytest.fixture
def track(sandbox: Sandbox) -> Iterator[TrackClient]:
    creds = sandbox.credentials
    client = TrackClient.with_credentials(
        creds.site_id, creds.track_api_key, base_url=sandbox.url, retry=no_sleep_retry()
    )
    yield client
    client.close()


@pytest.fixture
def app(sandbox: Sandbox) -> Iterator[AppClient]:
    client = AppClient.with_key(sandbox.credentials.app_api_key, base_url=sandbox.url, retry=no_sleep_retry())
    yield client
    client.close()


@pytest.fixture
def http_timeout_short() -> httpx.Timeout:
    return httpx.Timeout(0.5, connect=0.5)


@pytest.fixture(scope="session")
def bigquery_emulator() -> Iterator[str]:
    emulator = emulators.start_bigquery(PROJECT, LOG_DIR)
    try:
        yield emulator.host
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def bigquery(bigquery_emulator: str):  # the official client, pointed at the emulator
    from customerio_gcp_local.bigquery import bigquery_client

    client = bigquery_client(PROJECT, bigquery_emulator)
    yield client
    client.close()


def local_stack(prefix: str, pubsub_host: str, firestore_host: str, **options: object) -> LocalStack:
    """A LocalStack on the session's emulators, with names of its own (`prefix` + a random part)."""
    return LocalStack(
        functions_dir=REPO / "build" / "functions",  # the packaged functions: what deploys
        project=PROJECT,
        log_dir=LOG_DIR,
        suffix=f"-{prefix}{uuid.uuid4().hex[:6]}",
        pubsub_host=pubsub_host,
        firestore_host=firestore_host,
        **options,  # type: ignore[arg-type]
    )


def topic_with_subscription(name: str) -> tuple[str, str]:
    """A fresh topic on the emulator and a pull subscription to it (`<name>-sub`)."""
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(PROJECT, name)).name
    subscription = subscriber.create_subscription(
        name=subscriber.subscription_path(PROJECT, f"{name}-sub"), topic=topic
    )
    subscriber.close()
    return topic, subscription.name


def pull_now(subscription: str, max_messages: int = 100) -> list:
    """What the subscription holds now, without waiting (the emulator honours return_immediately)."""
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    request = {"subscription": subscription, "max_messages": max_messages, "return_immediately": True}
    response = subscriber.pull(request=request)
    subscriber.close()
    return [m.message for m in response.received_messages]


@contextmanager
def captured_logs(level: str = "INFO") -> Iterator[io.StringIO]:
    """The runtime's log lines at `level`, captured; the production setup (INFO to stdout) after."""
    stream = io.StringIO()
    configure_logging(level, stream)
    try:
        yield stream
    finally:
        configure_logging("INFO")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The runtime's log lines at INFO, captured (tests that pin what is logged)."""
    with captured_logs() as stream:
        yield stream
