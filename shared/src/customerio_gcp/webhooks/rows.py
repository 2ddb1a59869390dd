"""One reporting event → one row of the BigQuery event table (`bigquery/events_table.json`).

Personal data (`WEBHOOK_PERSONAL_DATA`): the recipient address and the identifiers' email are
`hash`ed (SHA-256 of the trimmed, lower-cased value: pseudonymous and joinable, not anonymous),
`keep`t as they are, or `drop`ped — in the typed columns and in the raw copy alike.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from customerio_gcp.webhooks.events import ReportingEvent

_ID_COLUMNS = (
    "delivery_id", "customer_id", "campaign_id", "broadcast_id", "newsletter_id", "transactional_message_id",
    "journey_id", "action_id", "trigger_id", "content_id", "subject", "href", "link_id", "failure_message",
)  # fmt: skip


class PersonalData(StrEnum):
    HASH = "hash"
    KEEP = "keep"
    DROP = "drop"

    def apply(self, value: str | None) -> str | None:
        if value is None or self is PersonalData.KEEP:
            return value
        if self is PersonalData.DROP:
            return None
        return "sha256:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()


def to_row(event: ReportingEvent, raw: dict[str, Any], received_at: datetime, personal: PersonalData) -> dict[str, Any]:
    data = event.data
    identifiers = data.identifiers
    row: dict[str, Any] = {
        "event_id": event.event_id,
        "object_type": event.object_type,
        "metric": event.metric,
        "event_timestamp": datetime.fromtimestamp(event.timestamp, UTC).isoformat(),
        "received_at": received_at.astimezone(UTC).isoformat(),
        "identifiers": None
        if identifiers is None
        else {"id": identifiers.id, "email": personal.apply(identifiers.email), "cio_id": identifiers.cio_id},
        "recipient": personal.apply(data.recipient),
        "machine": data.machine,
        "raw": json.dumps(scrub(raw, personal), separators=(",", ":"), ensure_ascii=False),
    }
    for column in _ID_COLUMNS:
        row[column] = getattr(data, column)
    return row


def scrub(raw: dict[str, Any], personal: PersonalData) -> dict[str, Any]:
    """The raw event with the personal-data policy applied to the fields it covers."""
    if personal is PersonalData.KEEP:
        return raw
    cleaned = copy.deepcopy(raw)
    data = cleaned.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("recipient"), str):
            data["recipient"] = personal.apply(data["recipient"])
        identifiers = data.get("identifiers")
        if isinstance(identifiers, dict) and isinstance(identifiers.get("email"), str):
            identifiers["email"] = personal.apply(identifiers["email"])
    return cleaned
