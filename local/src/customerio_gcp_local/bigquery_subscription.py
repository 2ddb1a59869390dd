"""A stand-in for a Pub/Sub BigQuery subscription, which the Pub/Sub emulator accepts but never
runs (`local-gcp.md`). Same semantics, documented as such:

- pull from the subscription; for each message, take its JSON data as a row of the table
  (use_table_schema: the columns are the table's; a field the table lacks is a refusal);
- convert what a BigQuery subscription converts for JSON: integer microseconds into TIMESTAMP
  columns, a string of JSON into a JSON column;
- insert with the message's `event_id` attribute as the insert id, then ack;
- refuse what the real subscription's write refuses and the emulator would take: a field the
  table lacks, a JSON column's string that is not JSON (NaN, Infinity), a partitioning column
  outside the 10 years back and 1 year ahead that BigQuery streams into;
- a row BigQuery refuses (or data that is not a JSON object) goes to the subscription's
  dead-letter topic with the reason in `CloudPubSubDeadLetterSourceDeliveryErrorMessage`, as the
  real subscription's dead letters carry it, and is acked, as the real subscription does after
  its delivery attempts; an insert that fails as a whole (BigQuery unreachable) is nacked and
  retried.

The real subscription writes through the Storage Write API without insert ids (at least once):
both leave duplicates possible, which the `events_unique` view removes.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from customerio_gcp.webhooks.rows import PARTITION_COLUMN
from customerio_gcp_local.bigquery import schema_json


class BigQuerySubscription:
    def __init__(
        self,
        subscription: str,
        table_id: str,
        dead_letter_topic: str,
        bigquery: Any,
        *,
        batch: int = 500,
    ) -> None:
        self.subscription = subscription
        self.table_id = table_id
        self.dead_letter_topic = dead_letter_topic
        self._bigquery = bigquery
        self._batch = batch
        self._columns = {field["name"]: field for field in schema_json()}
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dead_lettered = 0

    def start(self) -> BigQuerySubscription:
        self._thread = threading.Thread(target=self._run, name="bigquery-subscription", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing is pulled inside the block; what arrives meanwhile waits in the subscription
        and is written after it. For benchmarks of webhook-ingest alone: on Google Cloud the
        BigQuery subscription runs on Google's machines, not beside the instance and its load
        generator."""
        self._running.clear()
        try:
            yield
        finally:
            self._running.set()

    def _run(self) -> None:
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        publisher = pubsub_v1.PublisherClient()
        try:
            while not self._stop.is_set():
                if not self._running.wait(timeout=0.5):
                    continue
                try:
                    response = subscriber.pull(
                        request={"subscription": self.subscription, "max_messages": self._batch}, timeout=2
                    )
                except Exception:  # noqa: S112 - a deadline with nothing to pull, or the emulator going away
                    continue
                if response.received_messages:
                    self._write(subscriber, publisher, list(response.received_messages))
        finally:
            subscriber.close()

    def _write(self, subscriber: Any, publisher: Any, received: list[Any]) -> None:
        rows: list[dict[str, Any]] = []
        ids: list[str] = []
        keep: list[Any] = []
        refused: list[tuple[Any, str]] = []
        for item in received:
            try:
                rows.append(self._row(json.loads(item.message.data)))
                ids.append(item.message.attributes.get("event_id") or item.message.message_id)
                keep.append(item)
            except (ValueError, TypeError) as exc:
                refused.append((item, str(exc)[:300]))
        try:
            # skip_invalid_rows: without it BigQuery refuses every row of the insert when one is
            # invalid ("stopped"), and a BigQuery subscription fails only the bad message.
            errors = (
                self._bigquery.insert_rows_json(self.table_id, rows, row_ids=ids, skip_invalid_rows=True)
                if rows
                else []
            )
        except Exception as exc:
            warnings.warn(f"BigQuery insert failed ({type(exc).__name__}); the messages will be redelivered",
                          stacklevel=1)  # fmt: skip
            ack_ids = [item.ack_id for item in keep]
            subscriber.modify_ack_deadline(request={"subscription": self.subscription, "ack_ids": ack_ids,
                                                    "ack_deadline_seconds": 0})  # fmt: skip
            keep = []
            errors = []
        failed = {error["index"]: error for error in errors}
        for index, item in enumerate(keep):
            if index in failed:
                detail = failed[index].get("errors", [{}])[0]
                refused.append((item, f"{detail.get('location')}: {detail.get('reason')}"))
        for item, reason in refused:
            attributes = dict(item.message.attributes) | {
                "CloudPubSubDeadLetterSourceSubscription": self.subscription,
                "CloudPubSubDeadLetterSourceDeliveryCount": "1",  # at the first refusal: it is final
                "CloudPubSubDeadLetterSourceDeliveryErrorMessage": reason,
            }
            publisher.publish(self.dead_letter_topic, item.message.data, **attributes).result(timeout=30)
        self.dead_lettered += len(refused)
        self.written += len(keep) - len(failed)
        ack_ids = [item.ack_id for item in keep] + [item.ack_id for item, _ in refused]
        if ack_ids:
            subscriber.acknowledge(request={"subscription": self.subscription, "ack_ids": ack_ids})

    def _row(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise TypeError("message data is not a JSON object")
        unknown = set(data) - set(self._columns)
        if unknown:
            raise ValueError(f"fields not in the table: {', '.join(sorted(unknown))[:200]}")
        partition = data.get(PARTITION_COLUMN)
        if isinstance(partition, int) and not _in_partition_window(partition):
            raise ValueError(f"{PARTITION_COLUMN}: outside the partitions BigQuery streams into")
        return {name: self._convert(self._columns[name], value) for name, value in data.items()}

    def _convert(self, column: dict[str, Any], value: Any) -> Any:
        if value is None:
            return None
        if column["type"] == "TIMESTAMP":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{column['name']}: a TIMESTAMP takes integer microseconds")
            return datetime.fromtimestamp(value / 1_000_000, UTC).isoformat()
        if column["type"] == "JSON":
            if not isinstance(value, str):
                raise ValueError(f"{column['name']}: a JSON column takes a string of JSON")
            json.loads(value, parse_constant=_not_json)
            return value
        if column["type"] == "RECORD":
            if not isinstance(value, dict):
                raise ValueError(f"{column['name']}: a RECORD takes an object")
            fields = {f["name"]: f for f in column.get("fields", [])}
            unknown = set(value) - set(fields)
            if unknown:
                raise ValueError(f"{column['name']}: fields not in the table: {', '.join(sorted(unknown))[:200]}")
            return {k: self._convert(fields[k], v) for k, v in value.items()}
        return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _in_partition_window(micros: int) -> bool:
    """BigQuery's streaming window for a partitioned table: 10 years back, 1 year ahead, in
    calendar years, from now."""
    now = datetime.now(UTC)

    def years_from_now(years: int) -> datetime:
        try:
            return now.replace(year=now.year + years)
        except ValueError:  # 29 February
            return now.replace(year=now.year + years, day=28)

    return years_from_now(-10).timestamp() * 1e6 <= micros <= years_from_now(1).timestamp() * 1e6
