"""Secrets, the shared HTTP pool, the Customer.io clients and the service: every delivery
function's parts (and the operator CLI's)."""

from __future__ import annotations

import httpx

from customerio_gcp import secrets as names
from customerio_gcp.customerio.app import AppClient, BearerAuth
from customerio_gcp.customerio.track import TrackClient
from customerio_gcp.customerio.transport import USER_AGENT, RetryPolicy
from customerio_gcp.idempotency import IdempotencyGuard, IdempotencyStore, InMemoryStore
from customerio_gcp.people import AttributeHashes, HashStore, Tombstones, TombstoneStore
from customerio_gcp.secrets import Secrets
from customerio_gcp.service import MessagingService
from customerio_gcp.settings import Settings
from customerio_gcp.wiring.secret_cache import build_secrets, build_workspace


def build_service(
    settings: Settings,
    *,
    idempotency_store: IdempotencyStore | None = None,
    hash_store: HashStore | None = None,
    tombstone_store: TombstoneStore | None = None,
) -> MessagingService:
    """The service layer. Without `idempotency_store`, sends are de-duplicated within this
    process only; without `hash_store` (or with the setting off), every identify is sent;
    without `tombstone_store`, deletions leave no tombstone."""
    secrets = build_secrets(settings)
    http = build_http_client(settings)
    guard = IdempotencyGuard(
        idempotency_store or InMemoryStore(), lease_s=settings.idempotency_lease_s, ttl_s=settings.idempotency_ttl_s
    )
    workspace = build_workspace(settings, secrets)
    hashes = None
    if hash_store is not None and settings.identify_skip_unchanged:
        hashes = AttributeHashes(hash_store, workspace)
    tombstones = None
    if tombstone_store is not None:
        tombstones = Tombstones(tombstone_store, workspace, ttl_s=settings.tombstone_ttl_s)
    return MessagingService(
        build_track_client(settings, secrets, http),
        build_app_client(settings, secrets, http),
        guard=guard,
        hashes=hashes,
        tombstones=tombstones,
    )


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

    from customerio_gcp.customerio.app import AppClient
    from customerio_gcp.customerio.transport import RetryPolicy

    def auth(stale_since: float | None) -> httpx.Auth:
        return BearerAuth(secrets.get(names.APP_API_KEY, stale_since=stale_since))

    retry = RetryPolicy(attempts=max(1, settings.http_retry_attempts))
    return AppClient(auth, region=settings.region, base_url=settings.app_url, client=client, retry=retry)
