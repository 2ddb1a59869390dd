"""Bulk user sync with the repository's rules, by Pub/Sub or straight through Track v2 batches.

- `via_pubsub`: every user's messages go to the identify topic (the pipeline delivers them).
- `via_batch`: operations are packed into v2 batch requests filled to the 500 KB / 32 KB limits,
  paced under a requests-per-second budget; items refused locally or by a 207 are written to a
  rejects file; a checkpoint after every request makes an interrupted sync resumable without
  resending what was done. Identify timestamps are the source's `updated_at`, or the sync's start
  time — never zero or stale — because v2 silently ignores an identify older than the profile.
  Unchanged identifies are skipped with the same check as the identify function.
"""

from __future__ import annotations

import csv
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from customerio_gcp.customerio import v2
from customerio_gcp.customerio.batching import Rejected, pack
from customerio_gcp.customerio.errors import LimitExceededError
from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.track import TrackClient
from customerio_gcp.customerio.v2 import Operation
from customerio_gcp.messages.models import DeletePerson, IdentifyPerson
from customerio_gcp.people import AttributeHashes
from customerio_gcp.publishing import Publisher
from customerio_gcp.repository import plan
from customerio_gcp_ops.sources import InputError, RowError, Source, to_user

Position = tuple[int, int]  # (row number, operation number within the row)
CHECK_WINDOW = 500  # operations whose synced-attribute hashes are looked up in one round trip


@dataclass
class SyncReport:
    rows: int = 0
    operations: int = 0
    sent: int = 0
    skipped_unchanged: int = 0
    rejected: int = 0
    requests: int = 0
    resumed_from: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Checkpoint:
    """Progress of one source, written atomically after every request."""

    path: Path
    fingerprint: str
    position: Position = (-1, -1)
    report: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, fingerprint: str, *, restart: bool = False) -> Checkpoint:
        if restart or not path.exists():
            return cls(path, fingerprint)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            row, op = data["position"]
            position = (int(row), int(op))
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{path}: not a sync checkpoint", "pass --restart to start over, or --checkpoint another file"
            ) from None
        if data.get("fingerprint") != fingerprint:
            raise InputError(
                f"{path} belongs to another source (or the file changed since)",
                "pass --restart to start over, or --checkpoint another file",
            )
        return cls(path, fingerprint, position, data.get("report", {}))

    def save(self, position: Position, report: SyncReport) -> None:
        self.position = position
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"fingerprint": self.fingerprint, "position": position, "report": report.as_dict()})
        )
        temporary.replace(self.path)


class Rejects:
    """`row,user_id,reason` lines; user ids identify rows, no other personal data is written.
    The file is created (or appended to) at the first rejected row: a clean run leaves none."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: TextIO | None = None
        self._writer: Any = None

    def add(self, row: int, user_id: str, reason: str) -> None:
        if self._handle is None:
            self._handle = self.path.open("a", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            if self.path.stat().st_size == 0:
                self._writer.writerow(["row", "user_id", "reason"])
        self._writer.writerow([row, user_id, reason])
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class Pacer:
    """At most `rate` calls per second, evenly spaced."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = clock()

    def wait(self) -> None:
        delay = self._next - self._clock()
        if delay > 0:
            self._sleep(delay)
        self._next = max(self._next, self._clock()) + self._interval


class StopFlag:
    """Set by SIGINT/SIGTERM: the sync finishes the request in flight, saves, and stops."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        def stop(_signum: int, _frame: FrameType | None) -> None:
            self.event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    @property
    def set(self) -> bool:
        return self.event.is_set()


@dataclass(frozen=True)
class Planned:
    position: Position
    row: int
    user_id: str
    identifiers: Identifiers
    operation: Operation
    attributes: dict[str, Any] | None  # set when the operation is an identify


def planned_operations(source: Source, started_at: int, report: SyncReport, rejects: Rejects) -> Iterator[Planned]:
    """Every operation of every row, in a stable order, with its position."""
    for row_number, row in enumerate(source.rows()):
        report.rows += 1
        try:
            user = to_user(row)
            messages = plan(user)
        except (RowError, LimitExceededError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, LimitExceededError) else str(exc).splitlines()[0]
            rejects.add(row_number, str(row.get("id", "")), reason)
            report.rejected += 1
            continue
        operations: list[tuple[Identifiers, Operation, dict[str, Any] | None]] = []
        for message in messages:
            who = message.identifiers
            if isinstance(message, IdentifyPerson):
                timestamp = user.updated_at or started_at  # honest: never older than the data
                operations.append((who, v2.identify(who, message.attributes, timestamp=timestamp), message.attributes))
            elif isinstance(message, DeletePerson):
                if message.suppress:  # the delete's own suppress first, as the identify function does
                    operations.append((who, v2.suppress(who), None))
                operations.append((who, v2.delete(who), None))
            else:
                operations.append((who, v2.suppress(who), None))
        for op_number, (who, operation, attributes) in enumerate(operations):
            yield Planned((row_number, op_number), row_number, user.id, who, operation, attributes)


def via_batch(
    source: Source,
    track: TrackClient,
    *,
    checkpoint: Checkpoint,
    rejects: Rejects,
    rate_per_s: float = 100.0,
    synced: AttributeHashes | None = None,
    stop: StopFlag | None = None,
    on_progress: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    report = SyncReport(resumed_from=checkpoint.position[0] + 1)
    started = time.monotonic()
    started_at = int(time.time())
    pacer = Pacer(rate_per_s)

    def windows() -> Iterator[list[Planned]]:
        window: list[Planned] = []
        for item in planned_operations(source, started_at, report, rejects):
            if item.position > checkpoint.position:
                window.append(item)
                if len(window) == CHECK_WINDOW:
                    yield window
                    window = []
        if window:
            yield window

    def pending() -> Iterator[Planned]:
        for window in windows():
            report.operations += len(window)
            identifies = [item for item in window if item.attributes is not None]
            unchanged: set[Position] = set()
            if synced and identifies:
                answers = synced.unchanged_many([(item.identifiers, item.attributes or {}) for item in identifies])
                unchanged = {item.position for item, same in zip(identifies, answers, strict=True) if same}
            report.skipped_unchanged += len(unchanged)
            yield from (item for item in window if item.position not in unchanged)

    # Operations between being packed and being answered, by their index in the packed stream.
    in_flight: dict[int, Planned] = {}

    def operations() -> Iterator[Operation]:
        for index, item in enumerate(pending()):
            in_flight[index] = item
            yield item.operation

    for part in pack(operations()):
        if isinstance(part, Rejected):
            item = in_flight.pop(part.index)
            rejects.add(item.row, item.user_id, part.error.reason)
            report.rejected += 1
            continue
        chunk = [in_flight.pop(index) for index in part.indices]
        if synced:  # as the identify function does: invalidate before suppress or delete is sent
            synced.forget(*(item.identifiers for item in chunk if item.attributes is None))
        pacer.wait()
        failures = {f.index: f for f in track.send_chunk(part)}
        report.requests += 1
        accepted: list[tuple[Identifiers, dict[str, Any]]] = []
        for index, item in zip(part.indices, chunk, strict=True):
            failure = failures.get(index)
            if failure is not None:
                reason = " ".join(p for p in (failure.reason, failure.field or "", failure.message) if p)
                rejects.add(item.row, item.user_id, reason)
                report.rejected += 1
                continue
            report.sent += 1
            if item.attributes is not None:
                accepted.append((item.identifiers, item.attributes))
        if synced and accepted:
            synced.remember_many(accepted)
        checkpoint.save(chunk[-1].position, report)
        if on_progress:
            on_progress(report)
        if stop and stop.set:
            report.interrupted = True
            break
    report.elapsed_s = time.monotonic() - started
    return report


def via_pubsub(
    source: Source,
    publisher: Publisher,
    *,
    rejects: Rejects,
    stop: StopFlag | None = None,
    on_progress: Callable[[SyncReport], None] | None = None,
    chunk: int = 500,
) -> SyncReport:
    """Publish every user's messages to the identify topic; the identify function applies the
    skip-unchanged check and the pipeline's retries and dead-lettering."""
    report = SyncReport()
    started = time.monotonic()
    pending: list[Any] = []

    def flush() -> None:
        if pending:
            publisher.publish_many(pending)
            report.sent += len(pending)
            report.requests += len(pending)
            pending.clear()
            if on_progress:
                on_progress(report)

    for row_number, row in enumerate(source.rows()):
        report.rows += 1
        try:
            messages = plan(to_user(row))
        except (RowError, LimitExceededError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, LimitExceededError) else str(exc).splitlines()[0]
            rejects.add(row_number, str(row.get("id", "")), reason)
            report.rejected += 1
            continue
        report.operations += len(messages)
        pending.extend(messages)
        if len(pending) >= chunk:
            flush()
            if stop and stop.set:
                report.interrupted = True
                break
    flush()
    report.elapsed_s = time.monotonic() - started
    return report
