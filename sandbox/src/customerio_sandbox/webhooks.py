"""Customer.io's reporting-webhook sender (issue 13), with time compressed.

For every accepted transactional send and broadcast trigger the sandbox emits the reporting
events a real workspace would (`sent`, then `delivered` or `bounced`, then `opened`, `clicked`
and any other configured metric at the configured rates, drawn from a seeded generator), signs
each exactly as Customer.io does (`X-CIO-Timestamp`, `X-CIO-Signature` = hex HMAC-SHA256 of
`v0:<timestamp>:<raw body>` keyed with the signing key) and POSTs them to the configured URL,
one at a time, in order, waiting `timeout_s` (4 s) for an answer.

Like Customer.io, it holds every later event behind one that did not get a 2xx (any other
status, a connection error or a timeout) and retries that one with exponential backoff
(`first_delay_s`, times `factor` per attempt, at most `max_delay_s`) until it gets a 2xx or
`max_age_s` has passed since its first attempt; then it drops it and goes on. Customer.io waits
an hour before the first retry after the status codes it lists (400, 401, 402, 403, 404, 405,
410, 429, 500, 502, 521; its first delay after a timeout or another code is not documented) and
gives up after 7 days: the sandbox uses one `first_delay_s` for every failure, and its defaults
are 0.5 s and 60 s. Delays and the maximum age run on an injectable monotonic clock
(`Sandbox(webhook_clock=...)`), so tests move time instead of waiting for it.

Whether Customer.io re-signs a retry with a fresh timestamp is not documented: with
`keep_original_timestamp` (the default, the harder case for a receiver) a retry re-sends the
same bytes and headers; without it, the same body is signed again with the current time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from ulid import ULID

DEFAULT_RATES = {"delivered": 1.0, "opened": 0.5, "clicked": 0.2, "bounced": 0.0}
METRICS = {
    "email": ("drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "unsubscribed",
              "bounced", "dropped", "spammed", "failed", "undeliverable"),
    "push": ("drafted", "attempted", "sent", "delivered", "opened", "clicked", "converted", "bounced", "dropped",
             "failed", "undeliverable"),
    "sms": ("drafted", "attempted", "sent", "delivered", "clicked", "converted", "bounced", "failed",
            "undeliverable", "replied"),
}  # fmt: skip
"""Customer.io's metrics per object type (the channels the sandbox sends)."""
FLOW = ("sent", "bounced", "delivered", "opened", "clicked")
"""The metrics with a place in the story of one delivery; other configured metrics come after."""


class WebhookConfigError(ValueError):
    """A webhook setting the sandbox cannot honour (answered 400 by `PUT /_sandbox/webhooks`)."""


@dataclass
class WebhookRetry:
    first_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 8.0
    max_age_s: float = 60.0

    def delay(self, attempts: int) -> float:
        """The wait after the `attempts`-th failed attempt (1-based)."""
        return float(min(self.max_delay_s, self.first_delay_s * self.factor ** (attempts - 1)))


@dataclass
class WebhookConfig:
    url: str
    signing_key: str
    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    keep_original_timestamp: bool = True
    retry: WebhookRetry = field(default_factory=WebhookRetry)
    timeout_s: float = 4.0
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebhookConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise WebhookConfigError(f"unknown webhook settings: {sorted(unknown)}")
        try:
            retry = WebhookRetry(**(data.get("retry") or {}))
            rates = dict(DEFAULT_RATES) | dict(data.get("rates") or {})
            rest = {k: v for k, v in data.items() if k not in ("retry", "rates")}
            config = cls(rates=rates, retry=retry, **rest)
        except TypeError as error:
            raise WebhookConfigError(str(error)) from None
        config.check()
        return config

    def check(self) -> None:
        split = urlsplit(str(self.url))
        if split.scheme not in ("http", "https") or not split.hostname:
            raise WebhookConfigError("url must be an http(s) URL")
        if not isinstance(self.signing_key, str) or not self.signing_key:
            raise WebhookConfigError("signing_key is required")
        known = {m for metrics in METRICS.values() for m in metrics}
        for metric, rate in self.rates.items():
            if metric not in known or metric == "sent":
                raise WebhookConfigError(f"no rate for metric {metric!r} (sent is always emitted)")
            if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise WebhookConfigError(f"rate of {metric} must be between 0 and 1")
        r = self.retry
        if min(r.first_delay_s, r.max_delay_s, r.max_age_s) < 0 or r.factor < 1 or self.timeout_s <= 0:
            raise WebhookConfigError("retry delays and max_age_s must be >= 0, factor >= 1, timeout_s > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sign(signing_key: str, timestamp: int, body: bytes) -> str:
    """Customer.io's reporting-webhook signature: hex HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    return hmac.new(signing_key.encode(), b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()


@dataclass
class Outgoing:
    """One reporting event on its way: the body bytes are fixed when the event is emitted."""

    event: dict[str, Any]
    body: bytes
    headers: dict[str, str] | None = None
    attempts: int = 0
    first_attempt: float | None = None
    next_at: float = 0.0
    state: str = "queued"  # queued, sent, dropped (max_age_s passed), discarded (webhooks switched off)
    last_status: int | None = None
    last_error: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "event_id": self.event["event_id"],
            "object_type": self.event["object_type"],
            "metric": self.event["metric"],
            "delivery_id": self.event["data"]["delivery_id"],
            "state": self.state,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }


@dataclass
class Delivery:
    """What the sender needs to know about one message Customer.io would deliver."""

    object_type: str
    delivery_id: str
    identifiers: dict[str, Any]
    recipient: str
    source: dict[str, Any]  # transactional_message_id or broadcast_id (+ trigger_id)
    subject: str | None = None


class WebhookSender:
    """The background sender of one sandbox. Its thread starts with the first configuration."""

    def __init__(
        self, wall_clock: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`wall_clock`: unix seconds, for timestamps and signatures; `clock`: monotonic seconds,
        for retry delays and the maximum age (the sender's thread re-reads it at least every 0.5 s)."""
        self._wall_clock = wall_clock
        self._clock = clock
        self._cond = threading.Condition()
        self._config: WebhookConfig | None = None
        self._random = random.Random(0)  # noqa: S311 - simulated engagement, not cryptography
        self._queue: deque[Outgoing] = deque()
        self._all: list[Outgoing] = []
        self._failed_attempts = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    # --- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> WebhookConfig | None:
        return self._config

    def configure(self, config: WebhookConfig | None) -> None:
        """New settings (the queue is kept: a later attempt goes to the new URL); None: off."""
        with self._cond:
            self._config = config
            if config is None:
                for item in self._queue:
                    item.state = "discarded"
                self._queue.clear()
            else:
                self._random = random.Random(config.seed)  # noqa: S311
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(target=self._run, name="customerio-sandbox-webhooks", daemon=True)
                    self._thread.start()
            self._cond.notify_all()

    def reset(self) -> None:
        with self._cond:
            self._config = None
            self._queue.clear()
            self._all = []
            self._failed_attempts = 0
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # --- emission --------------------------------------------------------------------------

    def emit(self, delivery: Delivery) -> int:
        """Queue the reporting events of one delivery; returns how many (0 when not configured)."""
        with self._cond:
            config = self._config
            if config is None:
                return 0
            metrics = self._story(delivery.object_type, config.rates)
            now = int(self._wall_clock())
            for offset, metric in enumerate(metrics):
                item = self._outgoing(delivery, metric, now + offset)
                self._queue.append(item)
                self._all.append(item)
            self._cond.notify_all()
            return len(metrics)

    def _story(self, object_type: str, rates: dict[str, float]) -> list[str]:
        valid = METRICS.get(object_type, METRICS["email"])

        def roll(metric: str) -> bool:
            return metric in valid and self._random.random() < rates.get(metric, 0.0)

        story = ["sent"]
        if roll("bounced"):
            return [*story, "bounced"]
        if not roll("delivered"):
            return story
        story.append("delivered")
        story += [m for m in ("opened", "clicked") if roll(m)]
        story += [m for m in sorted(rates) if m not in FLOW and roll(m)]
        return story

    def _outgoing(self, delivery: Delivery, metric: str, timestamp: int) -> Outgoing:
        data: dict[str, Any] = {
            "delivery_id": delivery.delivery_id,
            "identifiers": delivery.identifiers,
            "customer_id": delivery.identifiers.get("id", ""),
            "recipient": delivery.recipient,
            **delivery.source,
        }
        if delivery.object_type == "email" and delivery.subject is not None:
            data["subject"] = delivery.subject
        if metric == "clicked":
            link = self._random.randrange(1, 100)
            data |= {"href": f"https://example.com/sandbox/{link}", "link_id": link, "machine": False}
        if metric in ("bounced", "dropped", "failed", "undeliverable"):
            data["failure_message"] = "sandbox: simulated 550 mailbox unavailable"
        event = {
            "event_id": str(ULID()),
            "object_type": delivery.object_type,
            "metric": metric,
            "timestamp": timestamp,
            "data": data,
        }
        return Outgoing(event, json.dumps(event, separators=(",", ":")).encode())

    # --- sending ---------------------------------------------------------------------------

    def _run(self) -> None:
        with httpx.Client(trust_env=False) as client:
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    config = self._config
                    if config is None or not self._queue:
                        self._cond.wait(0.5)
                        continue
                    item = self._queue[0]
                    now = self._clock()
                    deadline = (item.first_attempt or now) + config.retry.max_age_s
                    if item.attempts and now >= deadline:
                        self._finish(item, "dropped")
                        continue
                    if item.next_at > now:
                        self._cond.wait(min(item.next_at - now, 0.5))
                        continue
                    if item.first_attempt is None:
                        item.first_attempt = now  # max_age_s counts from here
                    headers = self._headers(item, config)
                status, error = self._post(client, config, item.body, headers)
                with self._cond:
                    self._after_attempt(item, config, status, error)

    def _headers(self, item: Outgoing, config: WebhookConfig) -> dict[str, str]:
        if item.headers is None or not config.keep_original_timestamp:
            timestamp = int(self._wall_clock())
            item.headers = {
                "Content-Type": "application/json",
                "X-CIO-Timestamp": str(timestamp),
                "X-CIO-Signature": sign(config.signing_key, timestamp, item.body),
            }
        return item.headers

    @staticmethod
    def _post(
        client: httpx.Client, config: WebhookConfig, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str]:
        try:
            answer = client.post(config.url, content=body, headers=headers, timeout=config.timeout_s)
        except httpx.HTTPError as error:
            return None, type(error).__name__
        return answer.status_code, ""

    def _after_attempt(self, item: Outgoing, config: WebhookConfig, status: int | None, error: str) -> None:
        now = self._clock()
        item.attempts += 1
        item.last_status, item.last_error = status, error
        if item.state != "queued":  # reset or switched off while the attempt was in flight
            return
        if status is not None and 200 <= status < 300:
            self._finish(item, "sent")
            return
        self._failed_attempts += 1
        deadline = (item.first_attempt or now) + config.retry.max_age_s
        item.next_at = min(now + config.retry.delay(item.attempts), deadline)
        self._cond.notify_all()

    def _finish(self, item: Outgoing, state: str) -> None:
        item.state = state
        if self._queue and self._queue[0] is item:
            self._queue.popleft()
        self._cond.notify_all()

    # --- control ---------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until every queued event was sent or dropped; False if `timeout` passed first."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._queue and self._config is not None:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return not self._queue

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            config = self._config.to_dict() if self._config else None
            states = [item.state for item in self._all]
            return {
                "configured": config is not None,
                "config": config,
                "queued": states.count("queued"),
                "sent": states.count("sent"),
                "dropped": states.count("dropped"),
                "discarded": states.count("discarded"),
                "failed": self._failed_attempts,
                "attempts": sum(item.attempts for item in self._all),
                "events": [item.summary() for item in self._all],
            }
