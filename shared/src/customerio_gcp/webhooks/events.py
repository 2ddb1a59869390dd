"""Models of Customer.io's reporting-webhook events, tolerant of what Customer.io adds later.

Required: `event_id`, `object_type`, `metric`, `timestamp`. Everything else is optional, and
unknown fields, object types and metrics are kept (stored, never rejected): Customer.io adds new
ones over time. Id fields arrive as numbers or strings; they are kept as strings.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

# Every (object_type, metric) pair Customer.io documents; used by docs and tests, not to filter.
_SMS = "drafted attempted sent delivered clicked converted bounced failed undeliverable replied"
KNOWN_METRICS: dict[str, frozenset[str]] = {
    object_type: frozenset(metrics.split())
    for object_type, metrics in {
        "customer": "subscribed unsubscribed cio_subscription_preferences_changed",
        "email": "drafted attempted sent delivered opened clicked converted unsubscribed bounced dropped spammed "
        "failed undeliverable",
        "push": "drafted attempted sent delivered opened clicked converted bounced dropped failed undeliverable",
        "sms": _SMS,
        "whatsapp": _SMS + " opened dropped",
        "in_app": "drafted attempted sent opened clicked converted failed undeliverable",
        "slack": "drafted attempted sent clicked failed undeliverable",
        "webhook": "drafted attempted sent clicked failed undeliverable",
    }.items()
}

MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, BigQuery's last TIMESTAMP second


def _id_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


IdText = Annotated[str | None, BeforeValidator(_id_text)]


class EventIdentifiers(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    id: IdText = None
    email: IdText = None
    cio_id: IdText = None


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    identifiers: EventIdentifiers | None = None
    customer_id: IdText = None
    delivery_id: IdText = None
    action_id: IdText = None
    journey_id: IdText = None
    trigger_id: IdText = None
    content_id: IdText = None
    recipient: IdText = None
    campaign_id: IdText = None
    broadcast_id: IdText = None
    newsletter_id: IdText = None
    transactional_message_id: IdText = None
    subject: IdText = None
    href: IdText = None
    link_id: IdText = None
    machine: bool | None = None
    failure_message: IdText = None


class ReportingEvent(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    event_id: Annotated[str, BeforeValidator(_id_text)] = Field(min_length=1, max_length=1024)
    object_type: str = Field(min_length=1, max_length=200)
    metric: str = Field(min_length=1, max_length=200)
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    data: EventData = Field(default_factory=EventData)

    @property
    def is_known(self) -> bool:
        return self.metric in KNOWN_METRICS.get(self.object_type, frozenset())


class InvalidEventError(ValueError):
    """A body that is not an event; the message names fields, never values."""


def parse_event(raw: Any) -> ReportingEvent:
    if not isinstance(raw, dict):
        raise InvalidEventError("an event must be a JSON object")
    try:
        return ReportingEvent.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        location = ".".join(str(p) for p in first["loc"]) or "event"
        raise InvalidEventError(f"{location}: {first['type']}") from None
