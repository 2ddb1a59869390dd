"""MessagingService: every Customer.io operation the system performs, each timed and logged.

This is the one door to Customer.io. Functions hand it a validated message (`handle`), application
code and tools may call the operations directly. Each operation emits one metric line
(`observability.timed`) with its latency, outcome and error class, and nothing personal.

Retry safety lives here: events get a deterministic ULID (Customer.io ignores a repeat), and
sends without server-side idempotency run through the `IdempotencyGuard`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from ulid import ULID

from customerio_gcp.customerio import v2
from customerio_gcp.customerio.app import (
    AppClient,
    BroadcastTrigger,
    Delivery,
    EmailRequest,
    PushRequest,
    SmsRequest,
    TransactionalRequest,
)
from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.track import (
    BatchResult,
    EventType,
    Platform,
    TrackClient,
)
from customerio_gcp.customerio.v2 import Operation
from customerio_gcp.idempotency import IdempotencyGuard, InMemoryStore
from customerio_gcp.ids import content_hash, event_ulid
from customerio_gcp.messages import models as m
from customerio_gcp.observability import timed
from customerio_gcp.people.attribute_hashes import AttributeHashes
from customerio_gcp.people.tombstones import Tombstones

R = TypeVar("R", bound=TransactionalRequest)
Request = TypeVar("Request", bound=BaseModel)


class TrackSubmitter(Protocol):
    """Sends one Track v2 operation in a request shared with others, and returns once Customer.io
    accepted it or raises its error (`delivery.coalescing.Coalescer`)."""

    def submit(self, operation: Operation, *, person: str | None = None) -> None: ...


@dataclass(frozen=True)
class Handled:
    """What `handle` did with a message, for the delivery log and the caller's accounting."""

    operation: str
    details: Mapping[str, Any] = field(default_factory=dict)


class MessagingService:
    def __init__(
        self,
        track: TrackClient,
        app: AppClient,
        *,
        guard: IdempotencyGuard | None = None,
        hashes: AttributeHashes | None = None,
        tombstones: Tombstones | None = None,
        coalescer: TrackSubmitter | None = None,
    ) -> None:
        """Without a `guard`, sends are de-duplicated within this process only; without `hashes`,
        every identify is sent (see `people.attribute_hashes` for skipping unchanged ones);
        without `tombstones`, message order is not checked against deletions (`people.tombstones`).
        With a `coalescer`, person and event operations go as Track v2 operations in requests
        shared with the instance's other messages (`delivery.coalescing`); merges, anonymous
        events and update-only identifies stay one v1 request each (their v2 forms are not
        confirmed); without one, every operation is its own v1 request."""
        self._track = track
        self._coalescer = coalescer
        self._app = app
        self._guard = guard or IdempotencyGuard(InMemoryStore())
        self._hashes = hashes
        self._tombstones = tombstones

    # --- people -----------------------------------------------------------------------------

    def identify_user(
        self,
        identifiers: Identifiers,
        attributes: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        update_only: bool = False,
        force: bool = False,
    ) -> None:
        """Create or update a person; skipped when the attributes are those Customer.io already
        accepted (unless `force`), which the metric line reports as outcome `skipped`."""
        with timed("identify", identifier_kind=identifiers.kind, attribute_count=len(attributes)) as op:
            hashes = self._hashes
            if hashes and not force and hashes.unchanged(identifiers, attributes, update_only=update_only):
                op.outcome = "skipped"
                return
            if self._coalescer and not update_only:
                # v2 takes the message's own timestamp (or none: Customer.io's receipt time), never
                # an invented one: it silently ignores an identify older than the profile.
                self._submit(v2.identify(identifiers, attributes, timestamp=timestamp), identifiers)
            else:
                self._track.identify(identifiers, attributes, timestamp=timestamp, update_only=update_only)
            if hashes:
                hashes.remember(identifiers, attributes, update_only=update_only)

    def suppress_user(self, identifiers: Identifiers) -> None:
        with timed("suppress", identifier_kind=identifiers.kind):
            self._forget(identifiers)
            self._suppress(identifiers)

    def unsuppress_user(self, identifiers: Identifiers) -> None:
        with timed("unsuppress", identifier_kind=identifiers.kind):
            self._forget(identifiers)
            if self._coalescer:
                self._submit(v2.unsuppress(identifiers), identifiers)
            else:
                self._track.unsuppress(identifiers)

    def delete_user(self, identifiers: Identifiers, *, suppress: bool = False, deleted_at: float | None = None) -> None:
        """Delete a person (after suppressing them, with `suppress`). A tombstone is left first
        (`people.tombstones`), dated `deleted_at` (default: now), so no older message about the
        person brings them back, whatever order Pub/Sub delivers in."""
        with timed("delete", identifier_kind=identifiers.kind, suppress=suppress):
            if self._tombstones:
                self._tombstones.bury(identifiers, time.time() if deleted_at is None else deleted_at)
            self._forget(identifiers)
            if suppress:
                self._suppress(identifiers)  # accepted before the delete is even submitted
            if self._coalescer:
                self._submit(v2.delete(identifiers), identifiers)
            else:
                self._track.delete(identifiers)

    def add_device(
        self,
        identifiers: Identifiers,
        device_id: str,
        platform: Platform,
        *,
        last_used: int | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        with timed("add_device", identifier_kind=identifiers.kind, platform=platform):
            if self._coalescer:
                operation = v2.add_device(identifiers, device_id, platform, last_used=last_used, attributes=attributes)
                self._submit(operation, identifiers)
            else:
                self._track.add_device(identifiers, device_id, platform, last_used=last_used, attributes=attributes)

    def remove_device(self, identifiers: Identifiers, device_id: str) -> None:
        with timed("remove_device", identifier_kind=identifiers.kind):
            if self._coalescer:
                self._submit(v2.delete_device(identifiers, device_id), identifiers)
            else:
                self._track.remove_device(identifiers, device_id)

    def merge_users(self, primary: Identifiers, secondary: Identifiers) -> None:
        with timed("merge"):
            self._forget(primary, secondary)
            self._track.merge(primary, secondary)

    def _suppress(self, identifiers: Identifiers) -> None:
        if self._coalescer:
            self._submit(v2.suppress(identifiers), identifiers)
        else:
            self._track.suppress(identifiers)

    def _submit(self, operation: Operation, identifiers: Identifiers) -> None:
        """One operation through the coalescer: returns once accepted, raises its error."""
        assert self._coalescer is not None
        self._coalescer.submit(operation, person=person_of(identifiers))

    def _forget(self, *people: Identifiers) -> None:
        """Operations that change a person outside identify invalidate the attribute hash."""
        if self._hashes:
            self._hashes.forget(*people)

    # --- events -----------------------------------------------------------------------------

    def track_event(
        self,
        identifiers: Identifiers,
        name: str,
        data: Mapping[str, Any] | None = None,
        *,
        timestamp: int,
        event_id: str | None = None,
        event_type: EventType = "event",
    ) -> str:
        """Send an event and return its ULID, derived from `event_id` or from the content."""
        content = {"identifiers": identifiers.as_body(), "name": name, "data": data or {}, "type": event_type}
        ulid = _event_ulid(timestamp, content, event_id)
        with timed(event_type, identifier_kind=identifiers.kind, event_id=ulid):
            if self._coalescer:
                operation = v2.event(identifiers, name, data, event_id=ulid, timestamp=timestamp, kind=event_type)
                self._submit(operation, identifiers)
            else:
                self._track.track(identifiers, name, data, event_id=ulid, timestamp=timestamp, event_type=event_type)
        return ulid

    def track_anonymous_event(
        self,
        anonymous_id: str,
        name: str,
        data: Mapping[str, Any] | None = None,
        *,
        timestamp: int,
        event_id: str | None = None,
    ) -> str:
        content = {"anonymous_id": anonymous_id, "name": name, "data": data or {}}
        ulid = _event_ulid(timestamp, content, event_id)
        with timed("anonymous_event", event_id=ulid):
            self._track.track_anonymous(anonymous_id, name, data, event_id=ulid, timestamp=timestamp)
        return ulid

    def batch(self, operations: Iterable[Operation]) -> BatchResult:
        with timed("batch") as op:
            result = self._track.batch(operations)
            op.fields.update(items=result.total, requests=result.requests, failed=len(result.failures))
        return result

    # --- sends without server-side idempotency ----------------------------------------------

    def send_transactional(self, request: EmailRequest, *, idempotency_key: str | None = None) -> Delivery:
        """Send a transactional email at most once per key (or per identical content)."""
        return self._send("send_email", request, idempotency_key, self._app.send_email)

    def send_push(self, request: PushRequest, *, idempotency_key: str | None = None) -> Delivery:
        return self._send("send_push", request, idempotency_key, self._app.send_push)

    def send_sms(self, request: SmsRequest, *, idempotency_key: str | None = None) -> Delivery:
        return self._send("send_sms", request, idempotency_key, self._app.send_sms)

    def trigger_broadcast(self, trigger: BroadcastTrigger, *, idempotency_key: str | None = None) -> str:
        payload = trigger.body() | {"broadcast_id": trigger.broadcast_id}
        key = guard_key("trigger_broadcast", payload, idempotency_key)
        with timed("trigger_broadcast", broadcast_id=trigger.broadcast_id) as op:
            outcome = self._guard.run(
                key,
                payload,
                lambda: {"trigger_id": self._app.trigger_broadcast(trigger)},
            )
            op.fields["replayed"] = outcome.replayed
        return str(outcome.result.get("trigger_id", ""))

    def _send(
        self,
        operation: str,
        request: R,
        idempotency_key: str | None,
        call: Callable[[R], Delivery],
    ) -> Delivery:
        payload = request.body()
        key = guard_key(operation, payload, idempotency_key)
        with timed(operation, identifier_kind=request.identifiers.kind) as op:
            outcome = self._guard.run(key, payload, lambda: call(request).model_dump())
            op.fields.update(replayed=outcome.replayed, delivery_id=outcome.result.get("delivery_id"))
        return Delivery.model_validate(outcome.result)

    def _deleted_after(self, message: m.Message, moment: float | None) -> bool:
        """True when someone the message is about was deleted at or after the message's time (a
        deletion itself always runs: deleting twice is harmless)."""
        people = _people(message)
        if self._tombstones is None or not people or moment is None or isinstance(message, m.DeletePerson):
            return False
        return self._tombstones.deleted_since(people, moment)

    # --- messages from the topics -----------------------------------------------------------

    def handle(self, message: m.Message, *, published_at: float | None = None) -> Handled:
        """Perform what one validated topic message asks for. Its time is its `timestamp`, else
        `published_at` (the Pub/Sub publish time): a message about a person deleted at or after
        that time is skipped, not sent."""
        moment = _moment(message, published_at)
        if self._deleted_after(message, moment):
            with timed(message.op, reason="person deleted after this message") as op:
                op.outcome = "skipped_deleted"
            return Handled(message.op, {"skipped": "person deleted after this message"})
        match message:
            case m.IdentifyPerson():
                self.identify_user(
                    message.identifiers,
                    message.attributes,
                    timestamp=message.timestamp,
                    update_only=message.update_only,
                    force=message.force,
                )
            case m.SuppressPerson():
                self.suppress_user(message.identifiers)
            case m.UnsuppressPerson():
                self.unsuppress_user(message.identifiers)
            case m.DeletePerson():
                self.delete_user(message.identifiers, suppress=message.suppress, deleted_at=moment)
            case m.AddDevice():
                self.add_device(
                    message.identifiers,
                    message.device_id,
                    message.platform,
                    last_used=message.last_used,
                    attributes=message.attributes,
                )
            case m.RemoveDevice():
                self.remove_device(message.identifiers, message.device_id)
            case m.MergePeople():
                self.merge_users(message.primary, message.secondary)
            case m.TrackEvent():
                ulid = self.track_event(
                    message.identifiers,
                    message.name,
                    message.data,
                    timestamp=message.timestamp,
                    event_id=message.event_id,
                    event_type=message.op,
                )
                return Handled(message.op, {"event_id": ulid})
            case m.AnonymousEvent():
                ulid = self.track_anonymous_event(
                    message.anonymous_id,
                    message.name,
                    message.data,
                    timestamp=message.timestamp,
                    event_id=message.event_id,
                )
                return Handled(message.op, {"event_id": ulid})
            case m.SendEmail():
                delivery = self.send_transactional(
                    _request(EmailRequest, message), idempotency_key=message.idempotency_key
                )
                return Handled(message.op, {"delivery_id": delivery.delivery_id})
            case m.SendPush():
                delivery = self.send_push(_request(PushRequest, message), idempotency_key=message.idempotency_key)
                return Handled(message.op, {"delivery_id": delivery.delivery_id})
            case m.SendSms():
                delivery = self.send_sms(_request(SmsRequest, message), idempotency_key=message.idempotency_key)
                return Handled(message.op, {"delivery_id": delivery.delivery_id})
            case m.TriggerBroadcast():
                trigger_id = self.trigger_broadcast(
                    _request(BroadcastTrigger, message),
                    idempotency_key=message.idempotency_key,
                )
                return Handled(message.op, {"trigger_id": trigger_id})
        return Handled(message.op)


def person_of(identifiers: Identifiers) -> str:
    """Who an operation is about, for keeping one person's operations in separate batches
    (emails compared case-insensitively, as Customer.io does)."""
    value = identifiers.value.lower() if identifiers.kind == "email" else identifiers.value
    return f"{identifiers.kind}:{value}"


def _event_ulid(timestamp: int, content: Mapping[str, Any], event_id: str | None) -> str:
    if event_id:
        try:
            return str(ULID.from_str(event_id))  # the caller already chose a ULID: keep it
        except ValueError:
            pass
    return event_ulid(timestamp, content=content, caller_id=event_id)


def guard_key(operation: str, payload: Mapping[str, Any], idempotency_key: str | None) -> str:
    """The send-once record's key: the caller's idempotency key, or the content's hash."""
    return f"{operation}:" + (idempotency_key or content_hash(payload))


def send_key(message: m.Message) -> str | None:
    """The send-once record a topic message's send is guarded by (None: not a send). Operator
    tools use it to approve resending a send whose outcome was unknown."""
    match message:
        case m.SendEmail():
            return guard_key("send_email", _request(EmailRequest, message).body(), message.idempotency_key)
        case m.SendPush():
            return guard_key("send_push", _request(PushRequest, message).body(), message.idempotency_key)
        case m.SendSms():
            return guard_key("send_sms", _request(SmsRequest, message).body(), message.idempotency_key)
        case m.TriggerBroadcast():
            trigger = _request(BroadcastTrigger, message)
            payload = trigger.body() | {"broadcast_id": trigger.broadcast_id}
            return guard_key("trigger_broadcast", payload, message.idempotency_key)
    return None


ENVELOPE = {"v", "op", "idempotency_key", "timestamp"}
"""Contract fields that are ours, not the App API's: never sent to Customer.io."""


def _moment(message: m.Message, published_at: float | None) -> float | None:
    timestamp = getattr(message, "timestamp", None)
    return float(timestamp) if isinstance(timestamp, int) else published_at


def _people(message: m.Message) -> list[Identifiers]:
    """Who a message is about, for the tombstone check (none for anonymous events and
    broadcasts, which name no single person)."""
    if isinstance(message, m.MergePeople):
        return [message.primary, message.secondary]
    identifiers = getattr(message, "identifiers", None)
    return [identifiers] if isinstance(identifiers, Identifiers) else []


def _request(kind: type[Request], message: m.SendEmail | m.SendPush | m.SendSms | m.TriggerBroadcast) -> Request:
    """The API request inside a topic message: the message minus its envelope fields. The two
    models are declared apart (the contract is not the client); their fields are checked equal by
    a test, so this mapping cannot drop a field silently."""
    data = message.model_dump(exclude=ENVELOPE, exclude_none=True)
    return kind.model_validate(data)
