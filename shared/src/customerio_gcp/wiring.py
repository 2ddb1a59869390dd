"""Build the service layer from `Settings`: secrets, one shared HTTP pool, clients, idempotency.

Functions call `build_service` once per process (at first use) and keep the result, so the
connection pool, the secret cache and the Firestore client live across invocations.
"""

from __future__ import annotations

from typing import Any

import httpx

from customerio_gcp import secrets as names
from customerio_gcp.customerio.app import AppClient, BearerAuth
from customerio_gcp.customerio.track import TrackClient
from customerio_gcp.customerio.transport import USER_AGENT, RetryPolicy
from customerio_gcp.idempotency import IdempotencyGuard, IdempotencyStore, InMemoryStore, LazyStore
from customerio_gcp.observability import configure_logging
from customerio_gcp.secrets import Fetcher, SecretManagerFetcher, Secrets, constant
from customerio_gcp.service import MessagingService
from customerio_gcp.settings import Settings
from customerio_gcp.synced_attributes import SyncedAttributes
from customerio_gcp.webhooks.handler import WebhookHandler
from customerio_gcp.webhooks.routing import EventRouter
from customerio_gcp.webhooks.rows import PersonalData
from customerio_gcp.webhooks.sink import BigQuerySink


def build_secrets(settings: Settings) -> Secrets:
    """Each secret from its plain value (local runs) or from Secret Manager (the cloud)."""
    fetchers: dict[str, Fetcher] = {name: constant(value) for name, value in settings.secret_values.items()}
    if settings.secret_ids:
        manager = SecretManagerFetcher(settings.project or "", endpoint=settings.secret_manager_endpoint)
        for name, secret_id in settings.secret_ids.items():
            fetchers.setdefault(name, manager.fetcher(secret_id, optional=name == names.WEBHOOK_SIGNING_KEY_NEXT))
    return Secrets(fetchers, max_age=settings.secret_max_age_s)


def build_http_client(settings: Settings) -> httpx.Client:
    """One pool for both APIs, sized for a function instance handling many requests at once."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.http_timeout_s, connect=settings.http_connect_timeout_s),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"User-Agent": USER_AGENT},
    )


def build_track_client(settings: Settings, secrets: Secrets, client: httpx.Client) -> TrackClient:
    def auth(stale_since: float | None) -> httpx.Auth:
        return httpx.BasicAuth(
            secrets.get(names.SITE_ID, stale_since=stale_since),
            secrets.get(names.TRACK_API_KEY, stale_since=stale_since),
        )

    retry = RetryPolicy(attempts=max(1, settings.http_retry_attempts))
    return TrackClient(auth, region=settings.region, base_url=settings.track_url, client=client, retry=retry)


def build_app_client(settings: Settings, secrets: Secrets, client: httpx.Client) -> AppClient:
    def auth(stale_since: float | None) -> httpx.Auth:
        return BearerAuth(secrets.get(names.APP_API_KEY, stale_since=stale_since))

    retry = RetryPolicy(attempts=max(1, settings.http_retry_attempts))
    return AppClient(auth, region=settings.region, base_url=settings.app_url, client=client, retry=retry)


def build_idempotency_store(settings: Settings, collection: str | None = None) -> IdempotencyStore:
    """The configured backend; `collection` picks another Firestore collection than the sends'."""
    if settings.idempotency_backend == "memory":
        return InMemoryStore()
    from google.cloud import firestore

    from customerio_gcp.idempotency.firestore_store import FirestoreStore

    client: Any = firestore.Client(project=settings.project)
    return FirestoreStore(client, collection or settings.idempotency_collection)


def build_service(settings: Settings, *, idempotency_store: IdempotencyStore | None = None) -> MessagingService:
    secrets = build_secrets(settings)
    http = build_http_client(settings)
    store = idempotency_store or LazyStore(lambda: build_idempotency_store(settings))
    guard = IdempotencyGuard(store, lease_s=settings.idempotency_lease_s, ttl_s=settings.idempotency_ttl_s)
    synced = None
    if settings.identify_skip_unchanged:
        hashes = LazyStore(lambda: build_idempotency_store(settings, settings.identify_hash_collection))
        synced = SyncedAttributes(hashes)
    return MessagingService(
        build_track_client(settings, secrets, http),
        build_app_client(settings, secrets, http),
        guard=guard,
        synced=synced,
    )


def build_webhook_handler(settings: Settings) -> WebhookHandler:
    """webhook-ingest's handler: signing keys from the secret cache, BigQuery, optional routing.
    Also sends the package's logs to stdout as Cloud Logging JSON, as the delivery functions do."""
    configure_logging(settings.log_level)
    secrets = build_secrets(settings)

    def keys(stale_since: float | None) -> list[str]:
        found = [secrets.get(names.WEBHOOK_SIGNING_KEY, stale_since=stale_since)]
        if secrets.has(names.WEBHOOK_SIGNING_KEY_NEXT):
            found.append(secrets.get(names.WEBHOOK_SIGNING_KEY_NEXT, stale_since=stale_since))
        return found

    sink = BigQuerySink(
        settings.project or "", settings.bigquery_dataset, settings.bigquery_table, endpoint=settings.bigquery_endpoint
    )
    router = (
        EventRouter(settings.webhook_routing_topic, metrics=settings.webhook_routed_metrics or None)
        if settings.webhook_routing_topic
        else None
    )
    return WebhookHandler(
        keys,
        sink,
        router,
        personal_data=PersonalData(settings.webhook_personal_data),
        max_body_bytes=settings.webhook_max_body_bytes,
    )
