"""What the sandbox workspace holds: people, events seen, sends, and the log of every request."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Person:
    identifier: str
    attributes: dict[str, Any] = field(default_factory=dict)
    suppressed: bool = False
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated_at: int = 0
    identifies: int = 0


@dataclass
class Recorded:
    """One request as the sandbox saw it. `operation` names the API call (e.g. `identify`)."""

    seq: int
    at: float
    started: float
    method: str
    path: str
    host: str
    api: str
    operation: str
    status: int
    """What the operation earned (what Customer.io would have answered; 0 if never applied)."""
    body: Any
    note: str = ""
    answered: int | None = -1
    """What the client actually got: differs from `status` under an apply-then-fail fault;
    None when the connection was reset without an answer. -1 (the default) means `status`."""
    fault: str = ""
    """The fault kind that replaced the answer (`apply_then_status`, `apply_then_reset`,
    `garbage_body`, `reset_before`), or empty."""
    people: list[str] = field(default_factory=list)
    """The identifier values the request names (its path, its operations, its `identifiers`)."""

    def __post_init__(self) -> None:
        if self.answered == -1:
            self.answered = self.status

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Workspace:
    """Thread-safe state of one sandbox workspace."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}
        self.deleted: set[str] = set()
        self.event_ids: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.triggers: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.applied: list[dict[str, Any]] = []
        """Every operation that changed the workspace: {operation, key, fault, request}."""
        self._seq = itertools.count(1)
        self._delivery_seq = itertools.count(1)

    def record(self, **fields: Any) -> Recorded:
        with self.lock:
            entry = Recorded(seq=next(self._seq), at=time.time(), **fields)
            self.requests.append(entry)
            return entry

    def next_delivery_id(self) -> str:
        return f"sandbox-delivery-{next(self._delivery_seq)}"

    def person(self, identifier: str, *, create: bool = True) -> Person | None:
        with self.lock:
            found = self.people.get(identifier)
            if found is None and create:
                found = self.people[identifier] = Person(identifier)
                self.deleted.discard(identifier)
            return found

    def summary(self) -> dict[str, Any]:
        with self.lock:
            accepted = [r for r in self.requests if 200 <= r.status < 300]
            by_operation: dict[str, int] = {}
            for r in accepted:
                by_operation[r.operation] = by_operation.get(r.operation, 0) + 1
            return {
                "people": len(self.people),
                "suppressed": sum(1 for p in self.people.values() if p.suppressed),
                "deleted": len(self.deleted),
                "events": len(self.events),
                "deliveries": len(self.deliveries),
                "triggers": len(self.triggers),
                "requests": len(self.requests),
                "accepted_by_operation": by_operation,
                "refused": len(self.requests) - len(accepted),
                "applied": len(self.applied),
                "applied_by_operation": _count(a["operation"] for a in self.applied),
                "answers_replaced": _count(r.fault for r in self.requests if r.fault),
                "rate_limited": _count(
                    r.note.split(":", 1)[1] for r in self.requests if r.note.startswith("rate_limit:")
                ),
            }

    def applied_by_key(
        self, operation: str | None = None, key: str | None = None, key_field: str | None = None
    ) -> list[dict[str, Any]]:
        """Applied operations grouped by (operation, key), in first-seen order, with how often each
        was applied and which faults replaced the answers. `key_field` (dotted, e.g.
        `message_data.key`) takes the key from the request body instead."""
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        with self.lock:
            rows = list(self.applied)
        for row in rows:
            the_key = row["key"] if key_field is None else _dig(row["request"], key_field)
            if (operation and row["operation"] != operation) or (key is not None and the_key != key):
                continue
            fresh = {"operation": row["operation"], "key": the_key, "count": 0, "faults": []}
            group = groups.setdefault((row["operation"], str(the_key)), fresh)
            group["count"] += 1
            group["faults"].append(row["fault"])
        return list(groups.values())

    def snapshot_person(self, identifier: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.people.get(identifier)
            return asdict(found) if found else None


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
