"""What a verified body holds: a message per valid event, and what must be quarantined whole.

Used by webhook-ingest on every request, and again by `customerio-gcp webhooks reprocess` on
quarantined content after a schema fix, so both judge content by the same code.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from customerio_gcp.webhooks.events import InvalidEventError, parse_event
from customerio_gcp.webhooks.keeping import ATTRIBUTE_LIMIT_BYTES, MESSAGE_LIMIT_BYTES, EventMessage
from customerio_gcp.webhooks.quarantine import Quarantined
from customerio_gcp.webhooks.rows import PersonalData, check_partition_window, to_row


class _NumberCheck:
    """Notes whether the body held a number JSON cannot carry: Python's json reads NaN, Infinity
    and 1e400 (a float overflowing to inf), but written back into the JSON column `raw` they are
    not JSON, and BigQuery would refuse the row. Noted while parsing, so the common body costs no
    walk; only then is each item searched, and only the items holding one are quarantined."""

    def __init__(self) -> None:
        self.seen = False

    def constant(self, name: str) -> float:
        self.seen = True
        return float(name)

    def number(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            self.seen = True
        return value


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def sort_content(
    raw: bytes, received: float, personal: PersonalData, *, now: float | None = None
) -> tuple[list[EventMessage], list[Quarantined]]:
    """A message per valid event; the body, or each invalid array item, whole, for quarantine.
    Never raises: whatever a signed body holds is kept one way or the other.

    `received`: when webhook-ingest took the body (the rows' `received_at`); `now`: when the
    events would be published (default `received`; later when quarantined content is reprocessed),
    which is what BigQuery's partition window is measured from."""
    numbers = _NumberCheck()
    try:
        payload = json.loads(raw, parse_constant=numbers.constant, parse_float=numbers.number)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return [], [Quarantined(raw, "body is not JSON", "body", received)]
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        return [], [Quarantined(raw, "empty array", "body", received)]
    received_at = datetime.fromtimestamp(received, UTC)
    events: list[EventMessage] = []
    quarantined: list[Quarantined] = []
    for index, item in enumerate(items):
        try:
            parsed = parse_event(item)
            if numbers.seen and _non_finite(item):
                raise InvalidEventError("a number JSON cannot carry (NaN, Infinity, or beyond a double)")
            check_partition_window(parsed, received if now is None else now)
            event = EventMessage.of(to_row(parsed, item, received_at, personal))
            if len(event.data) > MESSAGE_LIMIT_BYTES:
                raise InvalidEventError("event over Pub/Sub's 10 MB message limit")
            if any(len(value.encode()) > ATTRIBUTE_LIMIT_BYTES for value in event.attributes.values()):
                raise InvalidEventError("event_id, object_type or metric over Pub/Sub's 1024-byte attribute limit")
            events.append(event)
        except Exception as exc:  # InvalidEventError, or anything a strange event provokes: kept
            reason = str(exc) if isinstance(exc, InvalidEventError) else f"cannot be stored ({type(exc).__name__})"
            if not isinstance(payload, list):
                return [], [Quarantined(raw, reason, "body", received)]
            item_bytes = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
            quarantined.append(Quarantined(item_bytes, f"item {index}: {reason}", "item", received))
    return events, quarantined
