"""Secrets, the shared HTTP pool, the Customer.io clients and the service: every delivery
function's parts (and the operator CLI's)."""

from __future__ import annotations

import httpx

from customerio_gcp import secrets as names
from customerio_gcp.customerio.app import AppClient, BearerAuth
from customerio_gcp.customerio.track import TrackClient
from customerio_gcp.customerio.transport import USER_AGENT, RetryPolicy
from customerio_gcp.delivery.coalescing import Coalescer
from customerio_gcp.delivery.pacing import Pacer, is_track_path, is_transactional_path, pacing_hook
from customerio_gcp.idempotency import IdempotencyGuard, IdempotencyStore, InMemoryStore
from customerio_gcp.people import AttributeHashes, HashStore, Tombstones, TombstoneStore
from customerio_gcp.secrets import Secrets
from customerio_gcp.service import MessagingService
from customerio_gcp.settings import Settings
from customerio_gcp.wiring.secret_cache import build_secrets, build_workspace

RETRY_AFTER_JITTER = 0.25
"""After a 429 with Retry-After, each caller waits up to a quarter of it more: callers refused
together do not all come back in the same instant."""


def build_service(
    settings: Settings,
    *,
    idempotency_store: IdempotencyStore | None = None,
    hash_store: HashStore | None = None,
    tombstone_store: TombstoneStore | None = None,
    coalesce: bool = False,
) -> MessagingService:
    """The service layer. Without `idempotency_store`, sends are de-duplicated within this
    process only; without `hash_store` (or with the setting off), every identify is sent;
    without `tombstone_store`, deletions leave no tombstone; with `coalesce` (and the setting
    on), Track operations share v2 batch requests (`delivery.coalescing`)."""
    secrets = build_secrets(settings)
    http = build_http_client(settings)
    guard = IdempotencyGuard(
        idempotency_store or InMemoryStore(), lease_s=settings.idempotency_lease_s, ttl_s=settings.idempotency_ttl_s
    )
    workspace = build_workspace(settings, secrets)
    coalescing = coalesce and settings.track_coalesce
    hashes = None
    # Not when identifies go as v2 batch items: v2 answers 200 to an identify older than the
    # profile's last update and ignores it, so a remembered hash could claim attributes Customer.io
    # never took and hide the next real change. Batched, a repeated identify costs little anyway.
    if hash_store is not None and settings.identify_skip_unchanged and not coalescing:
        hashes = AttributeHashes(hash_store, workspace)
    tombstones = None
    if tombstone_store is not None:
        tombstones = Tombstones(tombstone_store, workspace, ttl_s=settings.tombstone_ttl_s)
    track = build_track_client(settings, secrets, http)
    coalescer = None
    if coalescing:
        coalescer = Coalescer(
            track.post_batch,
            linger_s=settings.track_coalesce_linger_s,
            max_items=settings.track_coalesce_max_items,
            max_in_flight=settings.track_coalesce_max_in_flight,
        )
    return MessagingService(
        track,
        build_app_client(settings, secrets, http),
        guard=guard,
        hashes=hashes,
        tombstones=tombstones,
        coalescer=coalescer,
    )


def build_http_client(settings: Settings) -> httpx.Client:
    """One pool for both APIs, sized for a function instance handling many requests at once.
    Every attempt of a Track request, and of a transactional send, waits for its slot under the
    instance's pace when one is set (`delivery.pacing`)."""
    pacers = []
    if settings.track_rps_per_instance > 0:
        pacers.append((is_track_path, Pacer(settings.track_rps_per_instance)))
    if settings.transactional_rps_per_instance > 0:
        pacers.append((is_transactional_path, Pacer(settings.transactional_rps_per_instance)))
    return httpx.Client(
        timeout=httpx.Timeout(settings.http_timeout_s, connect=settings.http_connect_timeout_s),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [pacing_hook(pacers)]} if pacers else None,
    )


def build_track_client(settings: Settings, secrets: Secrets, client: httpx.Client) -> TrackClient:
    def auth(stale_since: float | None) -> httpx.Auth:
        return httpx.BasicAuth(
            secrets.get(names.SITE_ID, stale_since=stale_since),
            secrets.get(names.TRACK_API_KEY, stale_since=stale_since),
        )

    retry = RetryPolicy(attempts=max(1, settings.http_retry_attempts), retry_after_jitter=RETRY_AFTER_JITTER)
    return TrackClient(auth, region=settings.region, base_url=settings.track_url, client=client, retry=retry)


def build_app_client(settings: Settings, secrets: Secrets, client: httpx.Client) -> AppClient:

    from customerio_gcp.customerio.app import AppClient
    from customerio_gcp.customerio.transport import RetryPolicy

    def auth(stale_since: float | None) -> httpx.Auth:
        return BearerAuth(secrets.get(names.APP_API_KEY, stale_since=stale_since))

    retry = RetryPolicy(attempts=max(1, settings.http_retry_attempts), retry_after_jitter=RETRY_AFTER_JITTER)
    return AppClient(auth, region=settings.region, base_url=settings.app_url, client=client, retry=retry)
