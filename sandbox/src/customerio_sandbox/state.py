"""What the sandbox workspace holds: people, events seen, sends, and the log of every request."""

from __future__ import annotations

import itertools
import threading
import time
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
    body: Any
    note: str = ""

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
            }

    def snapshot_person(self, identifier: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.people.get(identifier)
            return asdict(found) if found else None
