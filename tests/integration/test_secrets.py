"""Secrets from Secret Manager (the official client over REST to a local server), the max-age
cache, and the 401 → refresh → retry path that makes a rotated key work without a redeploy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp import secrets as names
from customerio_gcp.customerio import AuthenticationError, Identifiers
from customerio_gcp.customerio.app import EmailRequest
from customerio_gcp.secrets import SecretManagerFetcher, SecretNotConfiguredError, Secrets
from customerio_gcp.settings import Settings
from customerio_gcp.wiring.clients import build_app_client, build_http_client, build_track_client
from customerio_gcp.wiring.secret_cache import build_secrets
from tests.support.fake_secret_manager import FakeSecretManager


@pytest.fixture
def secret_manager() -> Iterator[FakeSecretManager]:
    fake = FakeSecretManager()
    yield fake
    fake.stop()


def cloud_settings(sandbox: Sandbox, secret_manager: FakeSecretManager) -> Settings:
    return Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "demo",
            "CIO_TRACK_URL": sandbox.url,
            "CIO_APP_URL": sandbox.url,
            "CIO_SITE_ID_SECRET": "cio-site-id",
            "CIO_TRACK_API_KEY_SECRET": "cio-track-key",
            "CIO_APP_API_KEY_SECRET": "projects/demo/secrets/cio-app-key",
            "SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
        }
    )


def seed(secret_manager: FakeSecretManager, sandbox: Sandbox) -> None:
    secret_manager.set("cio-site-id", sandbox.credentials.site_id)
    secret_manager.set("cio-track-key", sandbox.credentials.track_api_key)
    secret_manager.set("cio-app-key", sandbox.credentials.app_api_key)


def test_secret_manager_values_are_read_through_the_official_client(secret_manager: FakeSecretManager) -> None:
    secret_manager.set("token", "s3cr3t\n")
    fetcher = SecretManagerFetcher("demo", endpoint=secret_manager.endpoint)
    assert fetcher.access("token") == "s3cr3t"
    assert fetcher.path("token") == "projects/demo/secrets/token/versions/latest"
    assert fetcher.path("projects/x/secrets/y/versions/3") == "projects/x/secrets/y/versions/3"


def test_cache_serves_until_max_age(secret_manager: FakeSecretManager) -> None:
    secret_manager.set("token", "one")
    now = [0.0]
    manager = SecretManagerFetcher("demo", endpoint=secret_manager.endpoint)
    cache = Secrets({"token": manager.fetcher("token")}, max_age=300, clock=lambda: now[0])
    assert cache.get("token") == "one"
    secret_manager.set("token", "two")
    now[0] = 299
    assert cache.get("token") == "one"
    assert secret_manager.accesses["token"] == 1
    now[0] = 301
    assert cache.get("token") == "two"
    assert secret_manager.accesses["token"] == 2


def test_concurrent_401s_collapse_into_one_refresh() -> None:
    calls = []
    now = [100.0]
    cache = Secrets({"k": lambda: calls.append(1) or f"v{len(calls)}"}, clock=lambda: now[0])
    assert cache.get("k") == "v1"
    request_a_started = request_b_started = now[0] + 1
    now[0] += 2
    assert cache.get("k", stale_since=request_a_started) == "v2"  # refused value: fetched again
    now[0] += 1
    assert cache.get("k", stale_since=request_b_started) == "v2"  # already newer than B's request
    assert len(calls) == 2


def test_unconfigured_secret_is_a_clear_error() -> None:
    with pytest.raises(SecretNotConfiguredError, match="app_api_key"):
        Secrets({}).get(names.APP_API_KEY)


def test_a_rotated_track_key_is_picked_up_after_one_401(
    sandbox: Sandbox, control: SandboxControl, secret_manager: FakeSecretManager
) -> None:
    seed(secret_manager, sandbox)
    settings = cloud_settings(sandbox, secret_manager)
    secrets = build_secrets(settings)
    track = build_track_client(settings, secrets, build_http_client(settings))
    track.identify(Identifiers(id="u1"), {"a": 1})

    # Rotate: Customer.io now wants the new key, and Secret Manager holds it.
    control.set_credentials(track_api_key="rotated-key")
    secret_manager.set("cio-track-key", "rotated-key")
    track.identify(Identifiers(id="u1"), {"a": 2})

    assert [r["status"] for r in control.requests("identify")] == [200, 401, 200]
    assert secret_manager.accesses["cio-track-key"] == 2
    assert control.person("u1")["attributes"] == {"a": 2}


def test_a_rotated_app_key_is_picked_up_after_one_401(
    sandbox: Sandbox, control: SandboxControl, secret_manager: FakeSecretManager
) -> None:
    seed(secret_manager, sandbox)
    settings = cloud_settings(sandbox, secret_manager)
    app = build_app_client(settings, build_secrets(settings), build_http_client(settings))
    request = EmailRequest(transactional_message_id=1, to="a@example.com", identifiers=Identifiers(id="u1"))
    app.send_email(request)
    control.set_credentials(app_api_key="rotated-app-key")
    secret_manager.set("cio-app-key", "rotated-app-key")
    app.send_email(request)
    assert [r["status"] for r in control.requests("send_email")] == [200, 401, 200]


def test_a_revoked_key_still_fails_after_the_refresh(
    sandbox: Sandbox, control: SandboxControl, secret_manager: FakeSecretManager
) -> None:
    seed(secret_manager, sandbox)
    settings = cloud_settings(sandbox, secret_manager)
    track = build_track_client(settings, build_secrets(settings), build_http_client(settings))
    control.set_credentials(track_api_key="someone-else")
    with pytest.raises(AuthenticationError):
        track.identify(Identifiers(id="u1"), {"a": 1})
    assert [r["status"] for r in control.requests("identify")] == [401, 401]


def test_plain_environment_values_win_for_local_runs(sandbox: Sandbox, control: SandboxControl) -> None:
    settings = Settings.from_env(
        {
            "CIO_TRACK_URL": sandbox.url,
            "CIO_SITE_ID": sandbox.credentials.site_id,
            "CIO_TRACK_API_KEY": sandbox.credentials.track_api_key,
            "CIO_TRACK_API_KEY_SECRET": "never-read",
        }
    )
    track = build_track_client(settings, build_secrets(settings), build_http_client(settings))
    track.identify(Identifiers(id="u1"), {"a": 1})
    assert control.requests("identify")[0]["status"] == 200


def test_the_next_webhook_key_may_be_empty_outside_a_rotation(
    secret_manager: FakeSecretManager, pubsub_emulator: str, unique: str
) -> None:
    """Terraform creates the `_next` secret without a version; webhook-ingest must still work."""
    import json
    import time

    from customerio_gcp.webhooks.signature import signed_headers
    from customerio_gcp.wiring.webhook_ingest import build_webhook_handler
    from tests.conftest import topic_with_subscription

    events_topic, _ = topic_with_subscription(f"keys-events-{unique}")
    secret_manager.set("signing", "current-key")
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "demo",
            "SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
            "CIO_WEBHOOK_SIGNING_KEY_SECRET": "signing",
            "CIO_WEBHOOK_SIGNING_KEY_NEXT_SECRET": "signing-next",  # no version
            "WEBHOOK_EVENTS_TOPIC": events_topic,
            "WEBHOOK_QUARANTINE_TOPIC": events_topic.replace("keys-events", "no-such-topic"),
        }
    )
    handler = build_webhook_handler(settings)
    body = json.dumps(
        {"event_id": "e1", "object_type": "email", "metric": "sent", "timestamp": int(time.time())}
    ).encode()
    # Signature checks pass with the current key, and the event is kept.
    assert handler.handle("POST", signed_headers(body, "current-key"), body).status == 200
    secret_manager.set("signing-next", "next-key")  # a rotation begins: the key is re-read on a mismatch
    assert handler.handle("POST", signed_headers(body, "next-key"), body).status == 200
    assert handler.handle("POST", signed_headers(body, "current-key"), body).status == 200  # both accepted
    assert handler.handle("POST", signed_headers(body, "other-key"), body).status == 401


def test_a_bad_key_holds_the_stream_until_it_is_fixed_then_it_drains(
    sandbox: Sandbox, control: SandboxControl, secret_manager: FakeSecretManager, pubsub_emulator: str, unique: str
) -> None:
    """One bad deploy (a revoked key) must not move the stream into dead-letter topics: each
    delivery fails as transient (Pub/Sub retries it with backoff; an alert fires on the error
    class) and nothing is dead-lettered; once Secret Manager holds the right key, the next
    redeliveries go through by themselves."""
    from customerio_gcp_local.push import cloud_event_data, push_body

    from customerio_gcp.delivery import DeadLetterPublisher, PubSubDelivery
    from customerio_gcp.wiring.clients import build_service
    from tests.conftest import pull_now, topic_with_subscription

    seed(secret_manager, sandbox)
    topic, subscription = topic_with_subscription(f"dlq-keys-{unique}")
    handle = PubSubDelivery(
        "identify", build_service(cloud_settings(sandbox, secret_manager)), DeadLetterPublisher(topic)
    )
    control.set_credentials(track_api_key="rotated-in-customerio-only")
    backlog = [
        cloud_event_data(push_body(json.dumps({"op": "identify", "identifiers": {"id": f"u{i}"}}).encode()))
        for i in range(3)
    ]
    for _ in range(2):  # two rounds of Pub/Sub redeliveries while the key is wrong
        for message in backlog:
            with pytest.raises(AuthenticationError) as caught:
                handle(message)
            assert caught.value.retryable  # the function answers 500: redelivered, not dead-lettered
    assert pull_now(subscription) == []
    secret_manager.set("cio-track-key", "rotated-in-customerio-only")  # the fix
    for message in backlog:
        handle(message)
    assert [control.person(f"u{i}") is not None for i in range(3)] == [True, True, True]
    assert pull_now(subscription) == []
