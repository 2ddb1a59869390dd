"""Dead letters: look without consuming, group by reason, replay to the source topic, purge.

Reading a subscription without consuming it means leasing: every pulled message is held (its
ack deadline extended) until the whole set is read, then released (nacked) — or acknowledged,
one by one, by replay and purge after they did their part. A replayed message is the original
bytes and attributes (minus the dead-letter ones), so it keeps its event ULID and idempotency
key: a replay never sends twice what was already sent.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from customerio_gcp.redaction import redact
from customerio_gcp_ops.leases import LEASE_S, set_deadline
from customerio_gcp_ops.names import Paths

PUBSUB_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
DELIVERY_ERROR_ATTRIBUTE = f"{PUBSUB_DEAD_LETTER_PREFIX}SourceDeliveryErrorMessage"
OUR_PREFIX = "dlq_"


@dataclass(frozen=True)
class DeadLetter:
    kind: str
    ack_id: str
    message_id: str
    data: bytes
    attributes: dict[str, str]
    dead_lettered_at: datetime

    @property
    def error_class(self) -> str:
        return self.attributes.get("dlq_error_class") or "RetriesExhausted"

    @property
    def reason(self) -> str:
        if "dlq_reason" in self.attributes:
            return self.attributes["dlq_reason"]
        attempts = self.attributes.get(f"{PUBSUB_DEAD_LETTER_PREFIX}SourceDeliveryCount", "?")
        refused = self.attributes.get(DELIVERY_ERROR_ATTRIBUTE)
        if refused:  # a BigQuery subscription's: the write's error, which may quote a value
            return f"{attempts} delivery attempts failed: {redact(refused, limit=200)}"
        if self.kind == "webhook-routing":
            return f"{attempts} delivery attempts failed (the application's subscription did not take it)"
        return f"{attempts} delivery attempts failed (transient errors; see the function's logs)"

    @property
    def original_message_id(self) -> str:
        return self.attributes.get("dlq_original_message_id", self.message_id)

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.dead_lettered_at).total_seconds()

    def original_attributes(self) -> dict[str, str]:
        return {
            k: v
            for k, v in self.attributes.items()
            if not k.startswith(OUR_PREFIX) and not k.startswith(PUBSUB_DEAD_LETTER_PREFIX)
        }


@dataclass
class Group:
    kind: str
    error_class: str
    reason: str
    count: int = 0
    oldest_age_s: float = 0.0
    samples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    kinds: frozenset[str] = frozenset()
    reason: str | None = None  # an error class, or a piece of the reason text
    message_ids: frozenset[str] = frozenset()
    older_than_s: float | None = None
    newer_than_s: float | None = None

    def match(self, letter: DeadLetter, now: datetime) -> bool:
        if self.kinds and letter.kind not in self.kinds:
            return False
        if self.reason and self.reason != letter.error_class and self.reason.lower() not in letter.reason.lower():
            return False
        if self.message_ids and not ({letter.message_id, letter.original_message_id} & self.message_ids):
            return False
        age = letter.age_s(now)
        if self.older_than_s is not None and age < self.older_than_s:
            return False
        return not (self.newer_than_s is not None and age > self.newer_than_s)


class DeadLetterSet:
    """Every message now in the given dead-letter subscriptions, leased until `release`."""

    def __init__(self, subscriber: Any, leased: dict[str, list[DeadLetter]]) -> None:
        self._subscriber = subscriber
        self._by_subscription = leased
        self._settled: set[str] = set()

    @property
    def letters(self) -> list[DeadLetter]:
        return [letter for letters in self._by_subscription.values() for letter in letters]

    def groups(self) -> list[Group]:
        now = datetime.now(UTC)
        found: dict[tuple[str, str, str], Group] = {}
        for letter in self.letters:
            key = (letter.kind, letter.error_class, letter.reason)
            group = found.setdefault(key, Group(*key))
            group.count += 1
            group.oldest_age_s = max(group.oldest_age_s, letter.age_s(now))
            if len(group.samples) < 3:
                group.samples.append(letter.original_message_id)
        return sorted(found.values(), key=lambda g: (g.kind, -g.count))

    def settle(self, letter: DeadLetter) -> None:
        """Acknowledge: the dead letter has been replayed or purged."""
        subscription = self._subscription_of(letter)
        self._subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [letter.ack_id]})
        self._settled.add(letter.ack_id)

    def release(self) -> None:
        """Give back every letter not settled, so it stays in its subscription."""
        for subscription, letters in self._by_subscription.items():
            ack_ids = [letter.ack_id for letter in letters if letter.ack_id not in self._settled]
            set_deadline(self._subscriber, subscription, ack_ids, 0)

    def _subscription_of(self, letter: DeadLetter) -> str:
        for subscription, letters in self._by_subscription.items():
            if letter in letters:
                return subscription
        raise KeyError(letter.message_id)


@contextmanager
def leased(
    subscriber: Any, paths: Iterable[Paths], *, limit: int = 100_000, emulator: bool = False
) -> Iterator[DeadLetterSet]:
    """Lease every dead letter of `paths` (up to `limit`); release what is left on exit.
    `emulator`: the Pub/Sub emulator answers an empty pull at once, the real service waits."""
    by_subscription: dict[str, list[DeadLetter]] = {}
    letters = DeadLetterSet(subscriber, by_subscription)
    try:
        for p in paths:  # a pull failing still gives back everything leased before it
            _drain(subscriber, p, limit, emulator, into=by_subscription.setdefault(p.dead_letter_subscription, []))
        yield letters
    finally:
        letters.release()


def _drain(subscriber: Any, paths: Paths, limit: int, emulator: bool, *, into: list[DeadLetter]) -> None:
    found: set[str] = set()
    empty_pulls = 0
    while len(found) < limit and empty_pulls < (1 if emulator else 2):
        request: dict[str, Any] = {"subscription": paths.dead_letter_subscription, "max_messages": min(1000, limit)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if emulator:
                request["return_immediately"] = True  # honoured by the emulator; deprecated in the cloud
            try:
                response = subscriber.pull(request=request, timeout=10)
            except Exception as exc:  # the real service answers DeadlineExceeded on an empty subscription
                if type(exc).__name__ != "DeadlineExceeded":
                    raise
                empty_pulls += 1
                continue
        received = list(response.received_messages)
        if not received:
            empty_pulls += 1
            continue
        set_deadline(subscriber, paths.dead_letter_subscription, [m.ack_id for m in received], LEASE_S)
        for item in received:
            message = item.message
            if message.message_id in found:
                continue
            found.add(message.message_id)
            into.append(
                DeadLetter(
                    kind=paths.kind,
                    ack_id=item.ack_id,
                    message_id=message.message_id,
                    data=bytes(message.data),
                    attributes=dict(message.attributes),
                    dead_lettered_at=message.publish_time.replace(tzinfo=UTC)
                    if message.publish_time.tzinfo is None
                    else message.publish_time,
                )
            )


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    """Sends whose unknown outcome an operator approved resending."""
    unknown: int = 0
    """Replayed sends whose outcome was unknown (approved or not)."""


def replay(
    letters: DeadLetterSet,
    publisher: Any,
    paths: dict[str, Paths],
    filters: Filters,
    *,
    dry_run: bool = False,
    rate_per_s: float | None = None,
    progress: Callable[[DeadLetter], None] | None = None,
    approve_resend: Callable[[DeadLetter], bool] | None = None,
) -> ReplayReport:
    """Re-publish each matching dead letter to its source topic; acknowledge it only after the
    publish succeeded. What does not match, or fails to publish, stays in its subscription.

    A send whose outcome was unknown (`OutcomeUnknownError`) would only be dead-lettered again:
    its send-once record refuses it. `approve_resend` (the operator's `--resend-unknown`) writes
    the approval into that record first; nothing in the message itself can stand in for it."""
    report = ReplayReport()
    now = datetime.now(UTC)
    interval = 1.0 / rate_per_s if rate_per_s else 0.0
    next_at = time.monotonic()
    for letter in letters.letters:
        if not filters.match(letter, now):
            report.skipped += 1
            continue
        if letter.error_class == "OutcomeUnknownError":
            report.unknown += 1
        if dry_run:
            report.replayed.append(letter.original_message_id)
            continue
        wait = next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        next_at = max(next_at, time.monotonic()) + interval
        if approve_resend is not None and letter.error_class == "OutcomeUnknownError":
            try:
                approved = approve_resend(letter)
            except Exception as exc:
                report.failed.append((letter.original_message_id, type(exc).__name__))
                continue
            if approved:
                report.approved.append(letter.original_message_id)
        attributes = letter.original_attributes() | {"replayed_from": letter.message_id}
        try:
            publisher.publish(paths[letter.kind].topic, letter.data, **attributes).result(timeout=60)
        except Exception as exc:
            report.failed.append((letter.original_message_id, type(exc).__name__))
            continue
        letters.settle(letter)
        report.replayed.append(letter.original_message_id)
        if progress:
            progress(letter)
    return report


def purge(letters: DeadLetterSet, filters: Filters) -> int:
    now = datetime.now(UTC)
    purged = 0
    for letter in letters.letters:
        if filters.match(letter, now):
            letters.settle(letter)
            purged += 1
    return purged
