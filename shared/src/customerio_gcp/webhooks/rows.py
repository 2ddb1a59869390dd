"""One reporting event → one row of the BigQuery event table (`bigquery/events_table.json`), as
the JSON message the events topic carries and its BigQuery subscription writes (use_table_schema).

Types follow what a BigQuery subscription accepts from JSON for the table's columns: TIMESTAMP
as integer microseconds since the epoch, the JSON column `raw` as a string holding JSON (valid
JSON: an event with NaN or Infinity is quarantined, `content.sort_content`).

Personal data (`WEBHOOK_PERSONAL_DATA`), applied to every stored field and to `raw` alike:
- `hash` (default): the recipient and the identifiers' email become SHA-256 of the trimmed,
  lower-cased value (pseudonymous and joinable, not anonymous); free text that may quote an
  address or a number (`subject`, `href`, `failure_message` — bounce texts carry addresses — and
  every other string in `raw`) has emails and phone-like numbers masked;
- `drop`: the recipient, the email, the subject, the link and the failure text are removed, and
  the remaining strings in `raw` are masked as in `hash`;
- `keep`: everything as Customer.io sent it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from customerio_gcp.redaction import redact
from customerio_gcp.webhooks.events import InvalidEventError, ReportingEvent

_ID_COLUMNS = (
    "delivery_id", "customer_id", "campaign_id", "broadcast_id", "newsletter_id", "transactional_message_id",
    "journey_id", "action_id", "trigger_id", "content_id", "link_id",
)  # fmt: skip
_ADDRESSES = ("recipient", "email")  # hashed or dropped
_FREE_TEXT = ("subject", "href", "failure_message")  # masked or dropped
_NO_LIMIT = 10**9

# BigQuery streams into a time-unit-partitioned table (the Storage Write API, which a BigQuery
# subscription writes through) only rows whose partitioning column lies between 10 years in the
# past and 1 year in the future, at the time of the write; any other row is refused on every
# attempt. An event is written some time after it is judged: up to the events topic's 7 days of
# retention behind a stalled subscription. So the past bound is 10 calendar years at their
# shortest (3,652 days) less those 7 days and 5 more of margin; the future bound only grows
# safer with time.
PARTITION_COLUMN = "event_timestamp"
PARTITION_PAST_S = 3640 * 86_400
PARTITION_FUTURE_S = 365 * 86_400


class PersonalData(StrEnum):
    HASH = "hash"
    KEEP = "keep"
    DROP = "drop"

    def address(self, value: str | None) -> str | None:
        if value is None or self is PersonalData.KEEP:
            return value
        if self is PersonalData.DROP:
            return None
        return "sha256:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()

    def text(self, value: str | None) -> str | None:
        if value is None or self is PersonalData.KEEP:
            return value
        if self is PersonalData.DROP:
            return None
        return redact(value, limit=_NO_LIMIT)


def check_partition_window(event: ReportingEvent, now: float) -> None:
    """Refuse an event BigQuery would never write (see `PARTITION_PAST_S`): answered 2xx and
    published, it would only reach the subscription's dead-letter topic after every attempt; kept
    in quarantine instead, it is counted, alerted on, and stays where operators look."""
    if not now - PARTITION_PAST_S <= event.timestamp <= now + PARTITION_FUTURE_S:
        raise InvalidEventError("timestamp: outside the 10 years back and 1 year ahead BigQuery writes")


def to_row(event: ReportingEvent, raw: dict[str, Any], received_at: datetime, personal: PersonalData) -> dict[str, Any]:
    data = event.data
    identifiers = data.identifiers
    row: dict[str, Any] = {
        "event_id": event.event_id,
        "object_type": event.object_type,
        "metric": event.metric,
        "event_timestamp": event.timestamp * 1_000_000,
        "received_at": round(received_at.timestamp() * 1_000_000),
        "identifiers": None
        if identifiers is None
        else {"id": identifiers.id, "email": personal.address(identifiers.email), "cio_id": identifiers.cio_id},
        "recipient": personal.address(data.recipient),
        "subject": personal.text(data.subject),
        "href": personal.text(data.href),
        "failure_message": personal.text(data.failure_message),
        "machine": data.machine,
        "raw": json.dumps(scrub(raw, personal), separators=(",", ":"), ensure_ascii=False),
    }
    for column in _ID_COLUMNS:
        row[column] = getattr(data, column)
    return row


def scrub(raw: Any, personal: PersonalData) -> Any:
    """The raw event with the personal-data policy applied to every field it holds."""
    if personal is PersonalData.KEEP:
        return raw
    return _scrub(raw, personal, None)


def _scrub(value: Any, personal: PersonalData, key: str | None) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _scrub(v, personal, k) for k, v in value.items()}
        if personal is PersonalData.DROP:
            cleaned = {k: v for k, v in cleaned.items() if not (k in _ADDRESSES + _FREE_TEXT and v is None)}
        return cleaned
    if isinstance(value, list):
        return [_scrub(item, personal, None) for item in value]
    if isinstance(value, str):
        if key in _ADDRESSES:
            return personal.address(value)
        if key in _FREE_TEXT and personal is PersonalData.DROP:
            return None
        if key is not None and (key == "id" or key.endswith("_id")):
            return value  # identifiers, not personal text: a long numeric id is not a phone number
        return redact(value, limit=_NO_LIMIT)
    return value
