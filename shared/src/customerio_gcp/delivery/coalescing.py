"""Per-instance coalescing: concurrent push requests share Track v2 `/api/v2/batch` requests.

A function instance serves many push requests at once (Terraform: 80 for identify and track).
Each hands its Track operation to `Coalescer.submit`, which puts it into the open batch and waits
for that item's own outcome; the push request then answers for its message alone.

When a batch goes:
- at once when the instance is idle (no other batch open or in flight, none back within the
  linger): a lone message is not delayed;
- otherwise when it is full — the next item would break 500 KB for the request (each item is
  under 32 KB, checked before it joins), or it holds `max_items` — or when `linger_s` has passed
  since it opened, whichever comes first; and only while fewer than `max_in_flight` batches are
  being sent (the others keep filling meanwhile).

What each waiter gets:
- its item accepted (200, or a 207 that does not name it) → `submit` returns;
- its `batch_index` in a 207 → `BatchItemError` (permanent: the message is dead-lettered with
  Customer.io's reason);
- a 400 for the whole request → the batch is split in halves and each half sent again, down to
  the single item that is refused: one bad item never dead-letters its neighbours;
- a transient failure of the whole request (429, 5xx, timeout, connection) after the client's
  own short retries → every waiter raises it, and Pub/Sub redelivers each message;
- anything else the request raised → every waiter raises it too (`errors.classify` decides).

Ordering: no batch holds two operations for one person (Customer.io does not document that a
batch is applied in order); a second operation for someone already in the open batch goes to
the next one. A message that needs two operations in order (a delete that suppresses first)
submits the second only after the first was accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from customerio_gcp.customerio.errors import BatchItemError, BatchItemFailure
from customerio_gcp.customerio.limits import V2_BATCH_MAX_BYTES, check_v2_operation
from customerio_gcp.customerio.v2 import Operation
from customerio_gcp.errors import PermanentError

SendBatch = Callable[[Sequence[Operation]], Sequence[BatchItemFailure]]
"""Posts one batch request; returns the items a 207 refused (0-based in the request), raises
`PermanentError` with status 400 when the whole request is refused, any other error otherwise
(`TrackClient.post_batch`)."""

_ENVELOPE_BYTES = len(b'{"batch":[]}')


@dataclass(eq=False)
class _Item:
    operation: Operation
    size: int
    person: str | None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.done.set()


@dataclass(eq=False)
class _Batch:
    opened: float
    items: list[_Item] = field(default_factory=list)
    people: set[str] = field(default_factory=set)
    size: int = _ENVELOPE_BYTES
    full: bool = False

    def room_for(self, item: _Item, max_items: int, max_bytes: int) -> bool:
        added = item.size + (1 if self.items else 0)
        return len(self.items) < max_items and self.size + added <= max_bytes

    def is_full(self, max_items: int, max_bytes: int) -> bool:
        """No room even for the smallest item (`{}` and its comma)."""
        return len(self.items) >= max_items or self.size + 3 > max_bytes

    def add(self, item: _Item) -> None:
        self.size += item.size + (1 if self.items else 0)
        self.items.append(item)
        if item.person is not None:
            self.people.add(item.person)


@dataclass(frozen=True)
class CoalescerStats:
    """Counters since start, for logs, tests and the benchmark."""

    items: int
    requests: int
    splits: int


class Coalescer:
    """Thread-safe; one per process, shared by every request thread of the instance."""

    def __init__(
        self,
        send: SendBatch,
        *,
        linger_s: float = 0.05,
        max_items: int = 100,
        max_bytes: int = V2_BATCH_MAX_BYTES,
        max_in_flight: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_items < 1 or max_in_flight < 1 or linger_s < 0:
            raise ValueError("max_items and max_in_flight must be at least 1, linger_s at least 0")
        self._send = send
        self.linger_s = linger_s
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._cond = threading.Condition()
        self._open: list[_Batch] = []
        self._in_flight = 0
        self._returned = float("-inf")  # when the last batch came back
        self._items = 0
        self._requests = 0
        self._splits = 0

    @property
    def stats(self) -> CoalescerStats:
        with self._cond:
            return CoalescerStats(self._items, self._requests, self._splits)

    def submit(self, operation: Operation, *, person: str | None = None) -> None:
        """Send `operation` in a shared batch; return once Customer.io accepted it, or raise its
        error. `person` names who it is about: no batch holds two operations for one person."""
        item = _Item(operation, check_v2_operation(operation), person)  # over 32 KB: refused here
        with self._cond:
            self._items += 1
            batch, leader = self._place(item)
            if leader:
                self._wait_until_due(batch)
        if leader:
            self._flush(batch)
        item.done.wait()
        if item.error is not None:
            raise item.error

    # --- forming batches (under the lock) ---------------------------------------------------

    def _place(self, item: _Item) -> tuple[_Batch, bool]:
        """Join the first open batch with room and without this person, or open a new one (whose
        creator leads it: waits for it to be due, then sends it)."""
        for batch in self._open:
            if item.person is not None and item.person in batch.people:
                continue
            if batch.room_for(item, self.max_items, self.max_bytes):
                batch.add(item)
                if batch.is_full(self.max_items, self.max_bytes):
                    batch.full = True
                    self._cond.notify_all()
                return batch, False
            batch.full = True
            self._cond.notify_all()
        batch = _Batch(self._clock())
        batch.add(item)
        self._open.append(batch)
        return batch, True

    def _wait_until_due(self, batch: _Batch) -> None:
        # Idle: nothing open or on the wire, and nothing came back within the linger either (just
        # after a batch returns, the messages it answered are being replaced: not idle).
        idle = self._in_flight == 0 and len(self._open) == 1 and batch.opened - self._returned >= self.linger_s
        deadline = batch.opened + (0.0 if idle else self.linger_s)
        while True:
            now = self._clock()
            if (batch.full or now >= deadline) and self._in_flight < self.max_in_flight:
                break
            self._cond.wait(None if now >= deadline else deadline - now)
        self._open.remove(batch)
        self._in_flight += 1

    # --- sending (outside the lock) ---------------------------------------------------------

    def _flush(self, batch: _Batch) -> None:
        try:
            self._deliver(batch.items)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._returned = self._clock()
                self._cond.notify_all()

    def _deliver(self, items: Sequence[_Item]) -> None:
        """Send `items` as one request and finish each; split on a whole-request 400."""
        with self._cond:
            self._requests += 1
        try:
            failures = self._send([item.operation for item in items])
        except PermanentError as error:
            if error.status != 400:
                _finish_all(items, error)
            elif len(items) == 1:
                items[0].finish(BatchItemError(0, error.reason or "refused", None, status=400))
            else:
                with self._cond:
                    self._splits += 1
                middle = len(items) // 2
                try:
                    self._deliver(items[:middle])
                    self._deliver(items[middle:])
                except BaseException as interrupted:  # the second half must not wait forever
                    _finish_all(items, interrupted)
                    raise
            return
        except BaseException as error:
            _finish_all(items, error)
            if not isinstance(error, Exception):
                raise
            return
        refused = {f.index: f for f in failures if 0 <= f.index < len(items)}
        for index, item in enumerate(items):
            failure = refused.get(index)
            item.finish(failure.as_error() if failure else None)


def _finish_all(items: Sequence[_Item], error: BaseException) -> None:
    for item in items:
        if not item.done.is_set():
            item.finish(error)
