"""Customer.io's rate limits, as token buckets (issue 14).

| Surface | Limit (docs.customer.io) | Bucket key |
|---|---|---|
| Track API v1 + v2 together | 100 requests/s per workspace | `track` |
| Transactional sends (`/v1/send/*`) | 100 requests/s | `transactional` |
| Other App API calls | 10 requests/s | `app` |
| API-triggered broadcasts | 1 request per 10 s per broadcast | `broadcast:<id>` |

Customer.io documents the rates, not the bursts. The sandbox's choice: a bucket holds one
second's worth of tokens (`burst_s = 1`: 100 for Track, 10 for the App API) and never less than
one (so a broadcast gets exactly one trigger, then one more every 10 s). A client that keeps
under the documented rate on average but sends a second's worth at once is accepted; one that
sends more than that at once gets 429s. Over the limit the answer is `429` with a `Retry-After`
header (whole seconds until a token is available, rounded up, at least 1) and nothing is applied.

Each bucket takes an injectable `clock` (monotonic seconds) so tests need no real waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

Clock = Callable[[], float]
EPSILON = 1e-9


class RateLimitConfigError(ValueError):
    """A limits setting the sandbox cannot honour (answered 400 by `PUT /_sandbox/limits`)."""


class TokenBucket:
    """`rate` tokens per second, at most `capacity` kept; starts full."""

    def __init__(self, rate: float, capacity: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise RateLimitConfigError("a bucket needs rate > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._updated) * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def take(self) -> float:
        """Take one token: 0.0 if granted, else the seconds until one is available (nothing taken)."""
        self._refill()
        if self._tokens >= 1 - EPSILON:  # tolerate float error: 0.01 s at 100/s is one token
            self._tokens = max(0.0, self._tokens - 1)
            return 0.0
        return (1 - self._tokens) / self.rate


@dataclass
class RateLimits:
    enabled: bool = True
    track_per_s: float = 100.0
    """Track v1 and v2 together, per workspace."""
    transactional_per_s: float = 100.0
    """`POST /v1/send/email|push|sms`."""
    app_per_s: float = 10.0
    """Every other App API call."""
    broadcast_interval_s: float = 10.0
    """One trigger per broadcast id per this many seconds."""
    burst_s: float = 1.0
    """Bucket capacity in seconds' worth of the rate (at least one token)."""
    retry_after_header: bool = True
    """Whether a 429 carries `Retry-After`: Customer.io does not document it, so test both."""

    def __post_init__(self) -> None:
        for name in ("track_per_s", "transactional_per_s", "app_per_s", "broadcast_interval_s", "burst_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise RateLimitConfigError(f"{name} must be a number > 0")
        if not isinstance(self.enabled, bool) or not isinstance(self.retry_after_header, bool):
            raise RateLimitConfigError("enabled and retry_after_header must be true or false")

    def updated(self, changes: dict[str, Any]) -> RateLimits:
        """These limits with `changes` applied (the keys left out keep their value)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise RateLimitConfigError(f"unknown limit settings: {sorted(unknown)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def surface(api: str, operation: str, broadcast_id: str | None = None) -> str | None:
    """The bucket a request draws from, or None for requests Customer.io does not limit here."""
    if api in ("track_v1", "track_v2"):
        return "track"
    if api == "app":
        if operation.startswith("send_"):
            return "transactional"
        if operation == "trigger_broadcast" and broadcast_id is not None:
            return f"broadcast:{broadcast_id}"
        return "app"
    return None


class RateLimiter:
    """The buckets of one workspace. Thread-safe."""

    def __init__(self, limits: RateLimits | None = None, clock: Clock = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._limits = limits or RateLimits()
        self._buckets: dict[str, TokenBucket] = {}

    @property
    def limits(self) -> RateLimits:
        return self._limits

    def configure(self, limits: RateLimits) -> None:
        """New limits; every bucket starts full again."""
        with self._lock:
            self._limits = limits
            self._buckets = {}

    def _rate(self, key: str) -> float:
        lim = self._limits
        if key.startswith("broadcast:"):
            return 1.0 / lim.broadcast_interval_s
        rates = {"track": lim.track_per_s, "transactional": lim.transactional_per_s, "app": lim.app_per_s}
        return rates[key]

    def take(self, key: str) -> float:
        """0.0 if the request may go ahead, else the seconds until the bucket has a token."""
        with self._lock:
            if not self._limits.enabled:
                return 0.0
            bucket = self._buckets.get(key)
            if bucket is None:
                rate = self._rate(key)
                capacity = max(1.0, rate * self._limits.burst_s)
                bucket = self._buckets[key] = TokenBucket(rate, capacity, self._clock)
            return bucket.take()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self._limits.to_dict(),
                "buckets": {k: {"tokens": round(b.tokens, 3), "capacity": b.capacity, "rate": b.rate}
                            for k, b in self._buckets.items()},
            }  # fmt: skip


def retry_after(wait: float) -> str:
    """The `Retry-After` value for a wait: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait - EPSILON)))
