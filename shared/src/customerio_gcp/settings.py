"""Every setting and the environment variable it comes from, in one place.

Nothing else in the service layer reads `os.environ`: code receives a `Settings` (or the values
it needs), which keeps tests free of environment juggling and makes this file the reference. Only
entry points read the environment: the functions (through `Settings.from_env`), the command line
and the local tools (emulator hosts).

| Variable | Meaning | Default |
|---|---|---|
| `CIO_REGION` | `us` or `eu`: the workspace's region | `us` |
| `CIO_TRACK_URL` / `CIO_APP_URL` | override the region's hosts (the sandbox, a proxy) | region's |
| `CIO_SITE_ID`, `CIO_TRACK_API_KEY`, `CIO_APP_API_KEY`, | plain secret values, for local runs | unset |
| `CIO_WEBHOOK_SIGNING_KEY`, `CIO_WEBHOOK_SIGNING_KEY_NEXT` | (a plain value wins over a secret id) | |
| the same names + `_SECRET` | Secret Manager secret ids (or full version paths) | unset |
| `SECRET_CACHE_MAX_AGE_S` | how long a fetched secret is trusted | `300` |
| `SECRET_MANAGER_ENDPOINT` | a local Secret Manager REST endpoint (tests) | unset |
| `GOOGLE_CLOUD_PROJECT` (or `GCP_PROJECT`) | the project | unset |
| `HTTP_TIMEOUT_S` / `HTTP_CONNECT_TIMEOUT_S` | Customer.io request timeouts | `10` / `3` |
| `HTTP_RETRY_ATTEMPTS` | in-process attempts per call (Pub/Sub retries beyond that) | `2` |
| `TRACK_COALESCE` | identify/track share v2 batches (`delivery.coalescing`); `false`: one per message | `true` |
| `TRACK_COALESCE_LINGER_MS` | a busy instance's batch waits this long for more (idle: sent at once) | `50` |
| `TRACK_COALESCE_MAX_ITEMS` | operations per batch request (500 KB per request is kept in any case) | `100` |
| `TRACK_COALESCE_MAX_IN_FLIGHT` | batch requests of one instance on the wire at once (the next fills meanwhile) | `2` |
| `CIO_TRACK_RPS_PER_INSTANCE` | pace of its Track requests (Terraform: budget / instances); `0`: none | `0` |
| `CIO_TRANSACTIONAL_RPS_PER_INSTANCE` | pace of this instance's transactional sends; `0`: none | `0` |
| `IDEMPOTENCY_BACKEND` | `firestore` or `memory` (one process only) | `firestore` |
| `IDEMPOTENCY_COLLECTION` | Firestore collection of idempotency records | `customerio_idempotency` |
| `IDEMPOTENCY_LEASE_S` | how long an in-progress send is protected before takeover | `120` |
| `IDEMPOTENCY_TTL_S` | expiry written on records (Firestore TTL policy deletes them) | `691200` (8 days) |
| `IDENTIFY_SKIP_UNCHANGED` | skip identifies Customer.io has (uncoalesced only: v2 ignores stale ones) | `true` |
| `IDENTIFY_HASH_COLLECTION` | Firestore collection of last-synced attribute hashes | `customerio_identify_hashes` |
| `TOMBSTONE_COLLECTION` | Firestore collection of deletion tombstones (`people.tombstones`) | `customerio_tombstones` |
| `TOMBSTONE_TTL_S` | how long a tombstone is kept | `691200` (8 days) |
| `DEAD_LETTER_TOPIC` | full topic path that permanent failures are published to | unset |
| `SOURCE_SUBSCRIPTION` | the push subscription feeding this function (for dead-letter attributes) | unset |
| `WEBHOOK_EVENTS_TOPIC` | full topic path webhook-ingest publishes events to | unset |
| `WEBHOOK_QUARANTINE_TOPIC` | full topic path for signed content it cannot parse | unset |
| `WEBHOOK_MAX_BODY_BYTES` | larger requests get 413 | `33554432` (32 MiB, Cloud Run's limit) |
| `WEBHOOK_PERSONAL_DATA` | `hash`, `keep` or `drop` recipient and email in stored events | `hash` |
| `LOG_LEVEL` | `DEBUG`, `INFO`, … | `INFO` |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from customerio_gcp import secrets as secret_names
from customerio_gcp.customerio.regions import Region

_SECRET_ENV = {
    secret_names.SITE_ID: "CIO_SITE_ID",
    secret_names.TRACK_API_KEY: "CIO_TRACK_API_KEY",
    secret_names.APP_API_KEY: "CIO_APP_API_KEY",
    secret_names.WEBHOOK_SIGNING_KEY: "CIO_WEBHOOK_SIGNING_KEY",
    secret_names.WEBHOOK_SIGNING_KEY_NEXT: "CIO_WEBHOOK_SIGNING_KEY_NEXT",
}


@dataclass(frozen=True)
class Settings:
    region: Region = Region.US
    track_url: str | None = None
    app_url: str | None = None
    project: str | None = None
    secret_values: Mapping[str, str] = field(default_factory=dict)
    secret_ids: Mapping[str, str] = field(default_factory=dict)
    secret_max_age_s: float = 300.0
    secret_manager_endpoint: str | None = None
    http_timeout_s: float = 10.0
    http_connect_timeout_s: float = 3.0
    http_retry_attempts: int = 2
    track_coalesce: bool = True
    track_coalesce_linger_s: float = 0.05
    track_coalesce_max_items: int = 100
    track_coalesce_max_in_flight: int = 2
    track_rps_per_instance: float = 0.0
    transactional_rps_per_instance: float = 0.0
    idempotency_backend: str = "firestore"
    idempotency_collection: str = "customerio_idempotency"
    idempotency_lease_s: float = 120.0
    idempotency_ttl_s: float = 8 * 24 * 3600.0
    identify_skip_unchanged: bool = True
    identify_hash_collection: str = "customerio_identify_hashes"
    tombstone_collection: str = "customerio_tombstones"
    tombstone_ttl_s: float = 8 * 24 * 3600.0
    dead_letter_topic: str | None = None
    source_subscription: str | None = None
    webhook_events_topic: str | None = None
    webhook_quarantine_topic: str | None = None
    webhook_personal_data: str = "hash"
    webhook_max_body_bytes: int = 32 * 1024 * 1024
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            raw = env.get(name)
            try:
                return float(raw) if raw else default
            except ValueError as exc:
                raise ValueError(f"{name} must be a number") from exc

        def flag(name: str, default: bool) -> bool:
            """A typo must not silently pick a behaviour (`TRACK_COALESCE=flase` is an error)."""
            raw = env.get(name, "").strip().lower()
            if not raw:
                return default
            if raw in ("true", "1", "yes", "on"):
                return True
            if raw in ("false", "0", "no", "off"):
                return False
            raise ValueError(f"{name} must be true or false")

        try:
            region = Region(env.get("CIO_REGION", "us").lower())
        except ValueError as exc:
            raise ValueError("CIO_REGION must be 'us' or 'eu'") from exc
        backend = env.get("IDEMPOTENCY_BACKEND", "firestore")
        if backend not in ("firestore", "memory"):
            raise ValueError("IDEMPOTENCY_BACKEND must be 'firestore' or 'memory'")
        personal = env.get("WEBHOOK_PERSONAL_DATA", "hash")
        if personal not in ("hash", "keep", "drop"):
            raise ValueError("WEBHOOK_PERSONAL_DATA must be 'hash', 'keep' or 'drop'")
        return cls(
            region=region,
            track_url=env.get("CIO_TRACK_URL") or None,
            app_url=env.get("CIO_APP_URL") or None,
            project=env.get("GOOGLE_CLOUD_PROJECT") or env.get("GCP_PROJECT") or None,
            secret_values={k: env[v] for k, v in _SECRET_ENV.items() if env.get(v)},
            secret_ids={k: env[v + "_SECRET"] for k, v in _SECRET_ENV.items() if env.get(v + "_SECRET")},
            secret_max_age_s=number("SECRET_CACHE_MAX_AGE_S", 300.0),
            secret_manager_endpoint=env.get("SECRET_MANAGER_ENDPOINT") or None,
            http_timeout_s=number("HTTP_TIMEOUT_S", 10.0),
            http_connect_timeout_s=number("HTTP_CONNECT_TIMEOUT_S", 3.0),
            http_retry_attempts=int(number("HTTP_RETRY_ATTEMPTS", 2)),
            track_coalesce=flag("TRACK_COALESCE", True),
            track_coalesce_linger_s=number("TRACK_COALESCE_LINGER_MS", 50.0) / 1000,
            track_coalesce_max_items=max(1, int(number("TRACK_COALESCE_MAX_ITEMS", 100))),
            track_coalesce_max_in_flight=max(1, int(number("TRACK_COALESCE_MAX_IN_FLIGHT", 2))),
            track_rps_per_instance=max(0.0, number("CIO_TRACK_RPS_PER_INSTANCE", 0.0)),
            transactional_rps_per_instance=max(0.0, number("CIO_TRANSACTIONAL_RPS_PER_INSTANCE", 0.0)),
            idempotency_backend=backend,
            idempotency_collection=env.get("IDEMPOTENCY_COLLECTION", "customerio_idempotency"),
            idempotency_lease_s=number("IDEMPOTENCY_LEASE_S", 120.0),
            idempotency_ttl_s=number("IDEMPOTENCY_TTL_S", 8 * 24 * 3600.0),
            identify_skip_unchanged=flag("IDENTIFY_SKIP_UNCHANGED", True),
            identify_hash_collection=env.get("IDENTIFY_HASH_COLLECTION", "customerio_identify_hashes"),
            tombstone_collection=env.get("TOMBSTONE_COLLECTION", "customerio_tombstones"),
            tombstone_ttl_s=number("TOMBSTONE_TTL_S", 8 * 24 * 3600.0),
            dead_letter_topic=env.get("DEAD_LETTER_TOPIC") or None,
            source_subscription=env.get("SOURCE_SUBSCRIPTION") or None,
            webhook_events_topic=env.get("WEBHOOK_EVENTS_TOPIC") or None,
            webhook_quarantine_topic=env.get("WEBHOOK_QUARANTINE_TOPIC") or None,
            webhook_personal_data=personal,
            webhook_max_body_bytes=int(number("WEBHOOK_MAX_BODY_BYTES", 32 * 1024 * 1024)),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )
