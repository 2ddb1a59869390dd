"""The HTTP core both clients share: one pooled httpx client, classification, retries, 401 refresh.

Retries here are short and bounded (the Pub/Sub subscription owns long backoff). A request that
Customer.io may already have acted on (`maybe_applied`: read timeout, 5xx) is retried only when
the caller declared it idempotent, so a transactional send is never repeated by this layer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from customerio_gcp.customerio.errors import (
    ConfigurationError,
    ConnectionFailedError,
    CustomerIOError,
    RateLimitedError,
    RegionMismatchError,
    RequestTimeoutError,
    error_from_response,
)
from customerio_gcp.customerio.regions import Region

AuthFactory = Callable[[float | None], httpx.Auth]
"""Returns the auth for a request. After a 401 it is called with the `time.monotonic()` at which
the refused request started: credentials fetched at or before then must be fetched again."""

USER_AGENT = "customerio-gcp/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded in-process retries with full jitter; Retry-After wins when the server sends it.

    `retry_after_jitter` spreads the waits of the callers that one Retry-After stopped at the
    same moment: each waits Retry-After plus up to that fraction of it more (at least 50 ms's
    worth), so they do not all come back in the same instant (no retry storm)."""

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    retry_after_jitter: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, attempt: int, error: CustomerIOError) -> float | None:
        """Seconds to wait before the next attempt, or None when waiting is not worth it."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            if not self.retry_after_jitter:
                return error.retry_after
            spread = self.retry_after_jitter * max(error.retry_after, 0.05 / self.retry_after_jitter)
            return error.retry_after + random.uniform(0, spread)  # noqa: S311 - jitter
        return random.uniform(  # noqa: S311 - jitter, not cryptography
            0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        )


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def default_timeout() -> httpx.Timeout:
    """Fail fast on connect (never sent, safe to retry); allow Customer.io time to answer."""
    return httpx.Timeout(10.0, connect=3.0)


class HttpCaller:
    """Sends one logical request, with retries, and returns the 2xx response or raises."""

    def __init__(
        self,
        base_url: str,
        auth: AuthFactory,
        *,
        client: httpx.Client | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._auth = auth
        self._retry = retry
        self._client = client or httpx.Client(
            timeout=timeout or default_timeout(),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            headers={"User-Agent": USER_AGENT},
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        self._client.close()

    def request(
        self, method: str, path: str, *, json: Any = None, idempotent: bool, allow_status: tuple[int, ...] = ()
    ) -> httpx.Response:
        """Send and classify. `allow_status` lists non-2xx answers the caller handles (207)."""
        url = self._base_url + path
        auth = self._auth(None)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            outcome = self._send_once(method, url, json, auth)
            if isinstance(outcome, httpx.Response):
                if outcome.is_success or outcome.status_code in allow_status:
                    return outcome
                if outcome.status_code in (401, 403) and not refreshed:
                    # A rotated key: fetch fresh credentials once and try again right away.
                    refreshed = True
                    auth = self._auth(started)
                    attempt -= 1
                    continue
                error = _classify(outcome)
            else:
                error = outcome
            if not self._should_retry(error, attempt, idempotent):
                raise error
            wait = self._retry.delay(attempt, error)
            if wait is None:
                raise error
            self._retry.sleep(wait)

    def _send_once(self, method: str, url: str, body: Any, auth: httpx.Auth) -> httpx.Response | CustomerIOError:
        try:
            return self._client.request(method, url, json=body, auth=auth)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return ConnectionFailedError(f"could not reach Customer.io ({type(exc).__name__})")
        except httpx.TimeoutException as exc:
            return RequestTimeoutError(f"no answer in time ({type(exc).__name__})", maybe_applied=True)
        except httpx.TransportError as exc:
            return ConnectionFailedError(f"connection failed ({type(exc).__name__})", maybe_applied=True)

    def _should_retry(self, error: CustomerIOError, attempt: int, idempotent: bool) -> bool:
        if not error.retryable or attempt >= self._retry.attempts:
            return False
        if isinstance(error, ConfigurationError):
            return False  # a wrong key stays wrong for the next second: Pub/Sub's backoff waits longer
        return idempotent or not error.maybe_applied


class ApiClient:
    """What the Track and App clients share: where requests go and the pooled HTTP caller."""

    api: ClassVar[Literal["track", "app"]]

    def __init__(
        self,
        auth: AuthFactory,
        *,
        region: Region = Region.US,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        """`base_url` overrides the region's host (the sandbox, a proxy); paths stay the same."""
        host = base_url or (region.track_url if self.api == "track" else region.app_url)
        self._http = HttpCaller(host, auth, client=client, timeout=timeout, retry=retry)

    def close(self) -> None:
        self._http.close()


def _classify(response: httpx.Response) -> CustomerIOError:
    if response.is_redirect:
        # Customer.io redirects an EU workspace that calls the US host: a configuration error.
        target = urlsplit(response.headers.get("location", "")).hostname or "another host"
        return RegionMismatchError(f"redirected to {target}: is the region setting right?", status=response.status_code)
    return error_from_response(response)
