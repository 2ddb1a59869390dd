"""Message models, one union per topic, discriminated by `op` and versioned by `v`.

A message is the unit of retry: it carries everything needed to redo the call deterministically
(event timestamps are required on the wire, so a redelivered event yields the same ULID). Adding
an optional field keeps `v` = 1; anything that changes meaning gets a new version, and consumers
dead-letter versions they do not know instead of guessing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.limits import (
    BROADCAST_AUDIENCES,
    check_attachments,
    check_attributes,
    check_broadcast_audience,
    check_email_content,
    check_event,
)

TopicKind = Literal["identify", "track", "transactional"]
SCHEMA_VERSION = 1


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    v: Literal[1] = 1


# --- identify topic: everything that changes a person ------------------------------------------


class IdentifyPerson(_Base):
    """Create or update a person's attributes. `force` bypasses the unchanged-attributes skip."""

    op: Literal["identify"] = "identify"
    identifiers: Identifiers
    attributes: dict[str, Any] = Field(default_factory=dict)
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the change")
    update_only: bool = False
    force: bool = False

    @field_validator("attributes")
    @classmethod
    def _limits(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_attributes(value)
        return value


class SuppressPerson(_Base):
    op: Literal["suppress"] = "suppress"
    identifiers: Identifiers
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the change")


class UnsuppressPerson(_Base):
    op: Literal["unsuppress"] = "unsuppress"
    identifiers: Identifiers
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the change")


class DeletePerson(_Base):
    """Delete a person; with `suppress`, suppress them first in the same delivery, so the two
    can never arrive in the wrong order. Leaves a tombstone: see `people.tombstones`."""

    op: Literal["delete"] = "delete"
    identifiers: Identifiers
    suppress: bool = False
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the deletion")


class AddDevice(_Base):
    op: Literal["add_device"] = "add_device"
    identifiers: Identifiers
    device_id: str = Field(min_length=1)
    platform: Literal["ios", "android"]
    last_used: int | None = None
    attributes: dict[str, Any] | None = None
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the change")


class RemoveDevice(_Base):
    op: Literal["remove_device"] = "remove_device"
    identifiers: Identifiers
    device_id: str = Field(min_length=1)
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the change")


class MergePeople(_Base):
    op: Literal["merge"] = "merge"
    primary: Identifiers
    secondary: Identifiers
    timestamp: int | None = Field(default=None, ge=0, description="unix seconds of the change")


IdentifyTopicMessage = Annotated[
    IdentifyPerson | SuppressPerson | UnsuppressPerson | DeletePerson | AddDevice | RemoveDevice | MergePeople,
    Field(discriminator="op"),
]


# --- track topic: what people do ---------------------------------------------------------------


class _EventFields(_Base):
    """What every event carries. `event_id` is the caller's own id for the event."""

    name: str = Field(min_length=1, description="event name, page URL or screen name")
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: int = Field(ge=0, description="unix seconds; required so retries keep the same ULID")
    event_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _name_limit(cls, value: str) -> str:
        check_event(value, None)
        return value

    @field_validator("data")
    @classmethod
    def _data_limit(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_event("event", value)
        return value


class TrackEvent(_EventFields):
    """An event, page view or screen view of a known person."""

    op: Literal["event", "page", "screen"] = "event"
    identifiers: Identifiers


class AnonymousEvent(_EventFields):
    op: Literal["anonymous_event"] = "anonymous_event"
    anonymous_id: str = Field(min_length=1)


TrackTopicMessage = Annotated[TrackEvent | AnonymousEvent, Field(discriminator="op")]


# --- transactional topic: sends Customer.io cannot de-duplicate ---------------------------------
# The contract owns these fields: they mirror the App API's request bodies but are declared here,
# so a change to the client (`customerio.app`) never silently changes what publishers may send,
# nor the published JSON Schema. The service maps each message to its request.


class _Idempotent(BaseModel):
    model_config = ConfigDict(defer_build=True)

    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="the caller's key for this send; without it the message content is the key",
    )


class _Transactional(_Idempotent):
    """Fields every transactional send shares."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    transactional_message_id: int | str | None = None
    identifiers: Identifiers
    message_data: dict[str, Any] | None = None
    send_at: int | None = None
    disable_message_retention: bool | None = None
    send_to_unsubscribed: bool | None = None
    queue_draft: bool | None = None
    timestamp: int | None = Field(
        default=None, ge=0, description="unix seconds the send was requested; else the publish time"
    )


# Comments, not docstrings, on these four: a docstring would become a description in the
# published JSON Schema.
# `POST /v1/send/email`: a template (`transactional_message_id`) or inline body+subject+from.
class SendEmail(_Transactional):
    to: str = Field(min_length=1)
    body_html: str | None = Field(default=None, alias="body")
    subject: str | None = None
    from_: str | None = Field(default=None, alias="from")
    reply_to: str | None = None
    bcc: str | None = None
    tracked: bool | None = None
    attachments: dict[str, str] | None = None
    v: Literal[1] = 1
    op: Literal["send_email"] = "send_email"

    @model_validator(mode="after")
    def _template_or_inline(self) -> SendEmail:
        check_email_content(self.transactional_message_id, self.body_html, self.subject, self.from_)
        return self

    @field_validator("attachments")
    @classmethod
    def _attachments_size(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        check_attachments(value)
        return value


# `POST /v1/send/push`. Push options beyond these pass through unchanged.
class SendPush(_Transactional):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    to: str | None = None
    title: str | None = None
    message: str | None = None
    image_url: str | None = None
    link: str | None = None
    custom_data: dict[str, Any] | None = None
    v: Literal[1] = 1
    op: Literal["send_push"] = "send_push"


# `POST /v1/send/sms`.
class SendSms(_Transactional):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    to: str | None = None
    v: Literal[1] = 1
    op: Literal["send_sms"] = "send_sms"


# `POST /v1/campaigns/{broadcast_id}/triggers` with at most one audience form.
class TriggerBroadcast(_Idempotent):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    broadcast_id: int = Field(gt=0)
    data: dict[str, Any] | None = None
    recipients: dict[str, Any] | None = None
    emails: list[str] | None = None
    ids: list[str] | None = None
    per_user_data: list[dict[str, Any]] | None = None
    data_file_url: str | None = None
    id_ignore_missing: bool | None = None
    email_ignore_missing: bool | None = None
    email_add_duplicates: bool | None = None
    v: Literal[1] = 1
    op: Literal["trigger_broadcast"] = "trigger_broadcast"

    @model_validator(mode="after")
    def _one_audience(self) -> TriggerBroadcast:
        check_broadcast_audience({name: getattr(self, name) for name in BROADCAST_AUDIENCES})
        return self


TransactionalTopicMessage = Annotated[SendEmail | SendPush | SendSms | TriggerBroadcast, Field(discriminator="op")]

Message = (
    IdentifyPerson
    | SuppressPerson
    | UnsuppressPerson
    | DeletePerson
    | AddDevice
    | RemoveDevice
    | MergePeople
    | TrackEvent
    | AnonymousEvent
    | SendEmail
    | SendPush
    | SendSms
    | TriggerBroadcast
)

TOPIC_OF: dict[type[BaseModel], TopicKind] = {
    IdentifyPerson: "identify",
    SuppressPerson: "identify",
    UnsuppressPerson: "identify",
    DeletePerson: "identify",
    AddDevice: "identify",
    RemoveDevice: "identify",
    MergePeople: "identify",
    TrackEvent: "track",
    AnonymousEvent: "track",
    SendEmail: "transactional",
    SendPush: "transactional",
    SendSms: "transactional",
    TriggerBroadcast: "transactional",
}
