"""webhook-ingest: one request from Customer.io in, every event kept durably, an answer in time.

Customer.io waits 4 s, retries anything but a 2xx for up to 7 days (the first retry after an
hour), and holds every later event behind a failing one. So the answers are:

| Request | Answer |
|---|---|
| not POST | 405 |
| body over 32 MiB (Cloud Run's request limit), read with a bounded buffer | 413 |
| missing, malformed or wrong signature; timestamp over 7 days + 1 h old or 5 min ahead | 401 |
| signed, and kept: valid events published, anything unparseable quarantined whole | 200 |
| signed, but Pub/Sub did not confirm in time (our storage is down) | 503 |

A 401 stalls Customer.io's stream only when our key is wrong (Customer.io signs every request),
so it is logged with `metric="webhook"` and alerted on. The data path, top to bottom: read the
body (`body`) → verify (`signature`) → sort the content into event messages and quarantined
pieces (`content`) → publish and wait (`keeping`) → answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from customerio_gcp.observability import log
from customerio_gcp.webhooks.body import MAX_BODY_BYTES, BodyTooLargeError, Readable, read_bounded
from customerio_gcp.webhooks.content import sort_content
from customerio_gcp.webhooks.keeping import EventKeeper, StorageUnavailableError
from customerio_gcp.webhooks.rows import PersonalData
from customerio_gcp.webhooks.signature import SignatureError, verify

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
        keeper: EventKeeper,
        *,
        personal_data: PersonalData = PersonalData.HASH,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._keeper = keeper
        self._personal = personal_data
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._last_forced_refresh = float("-inf")
        self._refresh_lock = threading.Lock()

    def handle(self, method: str, headers: Mapping[str, str], body: Readable | bytes) -> WebhookResponse:
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
            quarantined=response.body.get("quarantined"),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        return response

    def _handle(self, method: str, headers: Mapping[str, str], body: Readable | bytes) -> WebhookResponse:
        if method.upper() != "POST":
            return WebhookResponse(405, {"error": "only POST is accepted", "reason": "method"})
        try:
            raw = body if isinstance(body, bytes) else read_bounded(body, self.max_body_bytes)
        except BodyTooLargeError:
            return WebhookResponse(413, {"error": "body too large", "reason": "too_large"})
        if len(raw) > self.max_body_bytes:
            return WebhookResponse(413, {"error": "body too large", "reason": "too_large"})
        try:
            self._verify(headers, raw)
        except SignatureError as exc:
            return WebhookResponse(401, {"error": str(exc), "reason": exc.code})

        received = self._clock()
        events, quarantined = sort_content(raw, received, self._personal)
        try:
            self._keeper.keep(events, quarantined)
        except StorageUnavailableError as exc:
            log(logging.ERROR, "webhook content not kept", metric="webhook_infra", reason=str(exc))
            return WebhookResponse(503, {"error": "storage unavailable, retry later", "reason": "storage"})
        for piece in quarantined:
            log(logging.WARNING, "webhook content quarantined", metric="webhook_quarantine", kind=piece.kind,
                reason=piece.reason, size=len(piece.data))  # fmt: skip
        return WebhookResponse(200, {"accepted": len(events), "quarantined": len(quarantined)})

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
    """Adapter for `@functions_framework.http`: the raw bytes, exactly as they were signed, read
    from the stream with a bounded buffer (a declared length over the limit is refused unread)."""
    length = request.content_length
    if length is not None and length > handler.max_body_bytes:
        response = WebhookResponse(413, {"error": "body too large", "reason": "too_large"})
    else:
        response = handler.handle(request.method, dict(request.headers), request.stream)
    return json.dumps(response.body), response.status, {"Content-Type": "application/json"}
