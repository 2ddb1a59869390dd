"""webhook-ingest: one HTTP request from Customer.io in, verified rows out.

Answers (Customer.io waits 4 s, retries anything but a 2xx for up to a week, and holds later
events behind a failing one — so a bad event must never get a 5xx):

| Request | Answer |
|---|---|
| not POST | 405 |
| body over the size limit | 413 |
| missing/invalid signature, stale or future timestamp | 401 |
| not JSON, not an event object or array of them, a single invalid event | 400 |
| valid (an array may carry some invalid items: they are logged and skipped) | 200 |
| BigQuery or the routing topic unreachable (nothing written, or only rows a retry de-duplicates) | 503 |
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from customerio_gcp.observability import log
from customerio_gcp.webhooks.events import InvalidEventError, ReportingEvent, parse_event
from customerio_gcp.webhooks.routing import EventRouter
from customerio_gcp.webhooks.rows import PersonalData, to_row
from customerio_gcp.webhooks.signature import SignatureError, verify
from customerio_gcp.webhooks.sink import BigQuerySink, SinkError

KeySource = Callable[[float | None], list[str]]
"""Returns the accepted signing keys; called with a time after a mismatch to force a re-fetch."""

KEY_REFRESH_INTERVAL_S = 30.0


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class WebhookHandler:
    def __init__(
        self,
        keys: KeySource,
        sink: BigQuerySink,
        router: EventRouter | None = None,
        *,
        personal_data: PersonalData = PersonalData.HASH,
        max_body_bytes: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._sink = sink
        self._router = router
        self._personal = personal_data
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._last_forced_refresh = float("-inf")
        self._refresh_lock = threading.Lock()

    def handle(self, method: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        started = time.perf_counter()
        response = self._handle(method, headers, body)
        log(
            logging.INFO if response.status < 400 else logging.WARNING,
            f"webhook {response.status}",
            metric="webhook",
            status=response.status,
            outcome="accepted" if response.status < 300 else "rejected",
            reason=response.body.get("reason"),
            events=response.body.get("accepted"),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        return response

    def _handle(self, method: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        if method.upper() != "POST":
            return WebhookResponse(405, {"error": "only POST is accepted", "reason": "method"})
        if len(body) > self.max_body_bytes:
            return WebhookResponse(413, {"error": "body too large", "reason": "too_large"})
        try:
            self._verify(headers, body)
        except SignatureError as exc:
            return WebhookResponse(401, {"error": str(exc), "reason": exc.code})

        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return WebhookResponse(400, {"error": "body is not JSON", "reason": "not_json"})
        batch = isinstance(payload, list)
        items = payload if batch else [payload]
        if not items:
            return WebhookResponse(400, {"error": "empty batch", "reason": "not_an_event"})

        accepted: list[tuple[ReportingEvent, dict[str, Any]]] = []
        skipped = 0
        for item in items:
            try:
                accepted.append((parse_event(item), item))
            except InvalidEventError as exc:
                if not batch:
                    return WebhookResponse(400, {"error": str(exc), "reason": "not_an_event"})
                skipped += 1
                log(logging.WARNING, "skipped an invalid event in a batch", metric="webhook_item", reason=str(exc))

        received_at = datetime.fromtimestamp(self._clock(), UTC)
        rows = [to_row(event, raw, received_at, self._personal) for event, raw in accepted]
        try:
            self._sink.insert(rows)
            routed = self._router.publish(accepted) if self._router else 0
        except SinkError as exc:
            log(logging.ERROR, "event storage failed", metric="webhook_infra", reason=str(exc))
            return WebhookResponse(503, {"error": "storage unavailable, retry later", "reason": "storage"})
        except Exception as exc:
            # The rows are in (their insert ids and the unique view absorb the retry's duplicates).
            log(logging.ERROR, "event routing failed", metric="webhook_infra", error_class=type(exc).__name__)
            return WebhookResponse(503, {"error": "routing unavailable, retry later", "reason": "routing"})
        return WebhookResponse(200, {"accepted": len(accepted), "skipped": skipped, "routed": routed})

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        now = self._clock()
        try:
            verify(headers, body, self._keys(None), now=now)
        except SignatureError as exc:
            if exc.code != "bad_signature" or not self._may_refresh(now):
                raise
            # Perhaps the key was rotated since we cached it: re-fetch once, at most every 30 s,
            # so a flood of forged requests cannot turn into a flood of Secret Manager reads.
            verify(headers, body, self._keys(time.monotonic()), now=now)

    def _may_refresh(self, now: float) -> bool:
        with self._refresh_lock:
            if now - self._last_forced_refresh < KEY_REFRESH_INTERVAL_S:
                return False
            self._last_forced_refresh = now
            return True


def flask_response(handler: WebhookHandler, request: Any) -> tuple[str, int, dict[str, str]]:
    """Adapter for `@functions_framework.http`: the raw bytes, exactly as they were signed."""
    length = request.content_length
    if length is not None and length > handler.max_body_bytes:
        response = WebhookResponse(413, {"error": "body too large", "reason": "too_large"})
    else:
        response = handler.handle(request.method, dict(request.headers), request.get_data(cache=False))
    return json.dumps(response.body), response.status, {"Content-Type": "application/json"}
