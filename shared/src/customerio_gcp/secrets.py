"""Secrets with an in-process cache: Secret Manager in the cloud, plain values for local runs.

A fetched value is kept for `max_age` seconds, so a rotated secret is picked up without a redeploy,
and a 401 from Customer.io forces an early refresh: `get(name, stale_since=t)` re-fetches unless
the cached value was fetched after `t`, the moment the refused request started. So concurrent
401s collapse into one fetch, and a refresh is never skipped for a value the refused request used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Fetcher = Callable[[], str]

SITE_ID = "site_id"
TRACK_API_KEY = "track_api_key"
APP_API_KEY = "app_api_key"
WEBHOOK_SIGNING_KEY = "webhook_signing_key"
WEBHOOK_SIGNING_KEY_NEXT = "webhook_signing_key_next"


class SecretNotConfiguredError(LookupError):
    """No source was configured for a secret the running code needs."""


@dataclass
class _Entry:
    value: str
    fetched_at: float


class Secrets:
    """Named secrets, each with its own fetcher, behind a max-age cache. Thread-safe."""

    def __init__(
        self,
        fetchers: Mapping[str, Fetcher],
        *,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetchers = dict(fetchers)
        self._max_age = max_age
        self._clock = clock
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def has(self, name: str) -> bool:
        return name in self._fetchers

    def get(self, name: str, *, stale_since: float | None = None) -> str:
        """The cached value, unless older than `max_age` or fetched at or before `stale_since`
        (a time on this cache's clock, `time.monotonic` by default)."""
        entry = self._cache.get(name)
        if entry is not None and self._is_fresh(entry, stale_since):
            return entry.value
        with self._lock:
            entry = self._cache.get(name)
            if entry is not None and self._is_fresh(entry, stale_since):
                return entry.value
            fetcher = self._fetchers.get(name)
            if fetcher is None:
                raise SecretNotConfiguredError(f"secret {name!r} has no configured source")
            entry = _Entry(fetcher(), self._clock())
            self._cache[name] = entry
            return entry.value

    def _is_fresh(self, entry: _Entry, stale_since: float | None) -> bool:
        if stale_since is not None and entry.fetched_at <= stale_since:
            return False
        return self._clock() - entry.fetched_at < self._max_age


class SecretManagerFetcher:
    """Reads `projects/{project}/secrets/{secret}/versions/{version}` through the official client.

    The client is created on first use, so a function that never needs a secret never pays for
    importing it; `endpoint` points the REST transport at a local server for tests.
    """

    def __init__(self, project: str, *, endpoint: str | None = None) -> None:
        self._project = project
        self._endpoint = endpoint
        self._client: Any = None
        self._lock = threading.Lock()

    def path(self, secret: str, version: str = "latest") -> str:
        if secret.startswith("projects/"):
            return secret if "/versions/" in secret else f"{secret}/versions/{version}"
        return f"projects/{self._project}/secrets/{secret}/versions/{version}"

    def fetcher(self, secret: str, *, optional: bool = False) -> Fetcher:
        """`optional`: a secret with no (enabled) version reads as "" instead of failing — the
        next webhook signing key is empty except during a rotation."""
        return lambda: self.access(secret, optional=optional)

    def access(self, secret: str, *, optional: bool = False) -> str:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        try:
            response = self._get_client().access_secret_version(name=self.path(secret))
        except (NotFound, FailedPrecondition):
            if optional:
                return ""
            raise
        data: bytes = response.payload.data
        return data.decode("utf-8").strip()

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import secretmanager

                if self._endpoint:
                    from google.auth.credentials import AnonymousCredentials

                    self._client = secretmanager.SecretManagerServiceClient(
                        transport="rest",
                        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                        client_options={"api_endpoint": self._endpoint},
                    )
                else:
                    self._client = secretmanager.SecretManagerServiceClient()
            return self._client


def constant(value: str) -> Fetcher:
    """A fetcher for a value given directly (an environment variable in a local run)."""
    return lambda: value
