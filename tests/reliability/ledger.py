"""Per-message accounting for the reliability tests: every published message ends delivered
(exactly once, by what Customer.io de-duplicates on) or in its dead-letter topic — and which of
the two it is, so a test can bound or forbid dead letters instead of counting them as success.

- identify: delivered when the person carries the message's marker (identify is an upsert);
- track: delivered when the event with the message's ULID is stored; the sandbox stores an id
  once, so "once" holds by construction and the request log shows the duplicates it ignored;
- transactional: delivered when a send with the message's idempotency key exists; more than one
  such send is a duplicate, which the idempotency record must prevent.

A dead letter is mapped back to its message through its data (the same bytes are forwarded,
whether by the function for a permanent failure or by the pusher after the last attempt), which
carries the message's own person.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from customerio_gcp_local.stack import LocalStack
from ulid import ULID

from customerio_gcp.customerio import Identifiers
from customerio_gcp.messages import IdentifyPerson, SendEmail, TrackEvent
from customerio_gcp.messages.models import TopicKind

KINDS: tuple[TopicKind, ...] = ("identify", "track", "transactional")
RETRIES_EXHAUSTED = "RetriesExhausted"  # forwarded by the subscription's dead-letter policy (the pusher)


def reason(letter: Any) -> str:
    """Why a dead letter is there: the function's error class, or retries exhausted."""
    if "dlq_error_class" in letter.attributes:
        return str(letter.attributes["dlq_error_class"])
    if "CloudPubSubDeadLetterSourceDeliveryCount" in letter.attributes:
        return RETRIES_EXHAUSTED
    return "no reason"


@dataclass
class Item:
    kind: TopicKind
    who: str  # a person of its own: the key that maps results and dead letters back
    key: str  # identify: marker; track: event ULID; transactional: idempotency key
    message: Any
    message_id: str = ""


@dataclass
class Outcome:
    item: Item
    applied: int  # identify: 1 if the marker is there; track: events stored; transactional: sends
    letters: list[Any]

    @property
    def delivered(self) -> bool:
        return self.applied > 0

    @property
    def dead_lettered(self) -> bool:
        return bool(self.letters)


@dataclass
class Accounting:
    outcomes: list[Outcome]
    strays: int  # dead letters of messages this ledger did not publish

    def where(self, predicate: Any) -> list[Outcome]:
        return [o for o in self.outcomes if predicate(o)]

    @property
    def lost(self) -> list[Outcome]:
        return self.where(lambda o: not o.delivered and not o.dead_lettered)

    @property
    def settled(self) -> bool:
        return not self.lost

    @property
    def dead_lettered(self) -> list[Outcome]:
        return self.where(lambda o: o.dead_lettered)

    @property
    def duplicated_sends(self) -> list[Outcome]:
        return self.where(lambda o: o.item.kind == "transactional" and o.applied > 1)

    def reasons(self) -> Counter[str]:
        return Counter(f"{o.item.kind}: {reason(letter)}" for o in self.outcomes for letter in o.letters)

    def report(self) -> str:
        lines = []
        for kind in KINDS:
            mine = [o for o in self.outcomes if o.item.kind == kind]
            delivered = sum(1 for o in mine if o.delivered and not o.dead_lettered)
            dead = sum(1 for o in mine if o.dead_lettered and not o.delivered)
            both = sum(1 for o in mine if o.dead_lettered and o.delivered)
            lost = sum(1 for o in mine if not o.delivered and not o.dead_lettered)
            lines.append(f"  {kind}: {len(mine)} published → {delivered} delivered, {dead} dead-lettered, "
                         f"{both} delivered and dead-lettered, {lost} lost")  # fmt: skip
        lines.append(f"  dead letters by reason: {dict(sorted(self.reasons().items())) or '{}'}")
        lost = self.lost
        if lost:
            lines.append("  lost message ids: " + ", ".join(f"{o.item.kind}/{o.item.message_id}" for o in lost[:20]))
        return "\n".join(lines)


@dataclass
class Ledger:
    stack: LocalStack
    run: str
    items: dict[str, Item] = field(default_factory=dict)  # by person
    letters: list[Any] = field(default_factory=list)

    def make(
        self, count: int, *, start: int = 0, prefix: str = "m", kinds: tuple[TopicKind, ...] = KINDS
    ) -> list[Item]:
        """`count` messages spread over `kinds`' topics, each about a person of its own."""
        made = []
        for i in range(start, start + count):
            who = f"{prefix}-{self.run}-{i}"
            timestamp = 1_700_000_000 + i
            kind = kinds[i % len(kinds)]
            if kind == "identify":
                key = f"v{i}"
                message: Any = IdentifyPerson(
                    identifiers=Identifiers(id=who), attributes={"marker": key}, timestamp=timestamp
                )
            elif kind == "track":
                key = str(ULID.from_timestamp(timestamp))
                message = TrackEvent(identifiers=Identifiers(id=who), name="ledger", timestamp=timestamp, event_id=key)
            else:
                key = who
                message = SendEmail(transactional_message_id=1, to=f"{who}@example.com", identifiers=Identifiers(id=who),
                                    message_data={"key": key}, idempotency_key=key)  # fmt: skip
            item = Item(kind, who, key, message)
            self.items[who] = item
            made.append(item)
        return made

    def publish(self, items: Iterable[Item]) -> None:
        items = list(items)
        ids = self.stack.publisher().publish_many([item.message for item in items])
        for item, message_id in zip(items, ids, strict=True):
            item.message_id = message_id

    def collect(self) -> None:
        """Take the dead letters out of the dead-letter subscriptions (acked) and keep them."""
        for kind in KINDS:
            while True:
                got = self.stack.pull_dead_letters(kind, ack=True, max_messages=1000)
                self.letters.extend(got)
                if len(got) < 1000:
                    break

    def account(self) -> Accounting:
        self.collect()
        by_person: dict[str, list[Any]] = {}
        strays = 0
        for letter in self.letters:
            try:
                who = json.loads(letter.data)["identifiers"]["id"]
            except (ValueError, KeyError, TypeError):
                who = None
            if who in self.items:
                by_person.setdefault(who, []).append(letter)
            else:
                strays += 1
        workspace = self.stack.sandbox.workspace  # type: ignore[union-attr]
        with workspace.lock:
            markers = {who: p.attributes.get("marker") for who, p in workspace.people.items() if who in self.items}
            events = Counter(e.get("id") for e in workspace.events)
            sends = Counter(d["request"].get("message_data", {}).get("key") for d in workspace.deliveries)
        outcomes = []
        for who, item in self.items.items():
            if item.kind == "identify":
                applied = int(markers.get(who) == item.key)
            elif item.kind == "track":
                applied = events.get(item.key, 0)
            else:
                applied = sends.get(item.key, 0)
            outcomes.append(Outcome(item, applied, by_person.get(who, [])))
        return Accounting(outcomes, strays)

    def wait_settled(self, timeout: float, *, interval: float = 2.0, verbose: bool = False) -> Accounting:
        """Poll until no message is unaccounted for (or `timeout` passes); the last accounting."""
        deadline = time.monotonic() + timeout
        while True:
            accounting = self.account()
            if verbose:
                print(
                    f"  {len(accounting.lost)} unaccounted, {len(accounting.dead_lettered)} dead-lettered", flush=True
                )
            if accounting.settled or time.monotonic() > deadline:
                return accounting
            time.sleep(interval)
