"""Durable first: verified webhook content is published to Pub/Sub before Customer.io is answered.

Valid events go to the events topic, one message per event (data: the event's row as JSON;
attributes `object_type`, `metric` and `event_id`, which the routing subscription filters on).
A BigQuery subscription writes them to the table, so BigQuery's latency and outages never reach
Customer.io's 4-second budget. What cannot be parsed goes to the quarantine topic. Only when
Pub/Sub does not confirm every message in time does the request fail (503): the one answer that
means "our storage is down", and Customer.io retries it; duplicates this may cause de-duplicate
on `event_id` downstream.

The client batches: concurrent requests on one instance share publish calls (5 ms of linger),
which is what lets one instance take a thousand events a second. Each request waits for its own
publish, so the linger is also latency, and with Customer.io's senders waiting on their answers
latency is throughput: 5 ms took the most events per second on one vCPU (10 ms and 2 ms fewer,
`make bench ARGS="--only webhook"`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

from customerio_gcp.webhooks.quarantine import Quarantined

PUBLISH_TIMEOUT_S = 3.0  # inside Customer.io's 4 s, with room for reading and verifying
MESSAGE_LIMIT_BYTES = 9_500_000  # Pub/Sub takes 10 MB per message, attributes included
ATTRIBUTE_LIMIT_BYTES = 1024  # Pub/Sub's limit on an attribute value


@dataclass(frozen=True)
class EventMessage:
    data: bytes
    attributes: dict[str, str]

    @classmethod
    def of(cls, row: dict[str, Any]) -> EventMessage:
        data = json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(data, {"object_type": row["object_type"], "metric": row["metric"], "event_id": row["event_id"]})


class StorageUnavailableError(RuntimeError):
    """Pub/Sub did not confirm everything in time: nothing may be acknowledged to Customer.io."""


class EventKeeper:
    def __init__(
        self,
        events_topic: str,
        quarantine_topic: str,
        *,
        client: Any = None,
        timeout: float = PUBLISH_TIMEOUT_S,
        max_latency_s: float = 0.005,
    ) -> None:
        if not events_topic.startswith("projects/") or not quarantine_topic.startswith("projects/"):
            raise ValueError("topics must be full paths: projects/<project>/topics/<topic>")
        self.events_topic = events_topic
        self.quarantine_topic = quarantine_topic
        self._client = client
        self._timeout = timeout
        self._max_latency_s = max_latency_s
        self._lock = threading.Lock()

    def keep(self, events: Sequence[EventMessage], quarantined: Sequence[Quarantined]) -> None:
        client = self._get_client()
        pending = [client.publish(self.events_topic, event.data, **event.attributes) for event in events]
        for piece in quarantined:
            pending += [client.publish(self.quarantine_topic, data, **attrs) for data, attrs in piece.messages()]
        # Each future in turn, against one deadline: cheaper than `futures.wait`, which installs
        # a waiter in every future (most requests carry one event).
        deadline = time.monotonic() + self._timeout
        failed: list[BaseException] = []
        for number, future in enumerate(pending):
            try:
                error = future.exception(timeout=max(0.0, deadline - time.monotonic()))
            except futures.TimeoutError:
                unconfirmed = sum(1 for f in pending[number:] if not f.done())
                raise StorageUnavailableError(
                    f"{unconfirmed} of {len(pending)} messages not confirmed in time"
                ) from None
            if error is not None:
                failed.append(error)
        if failed:
            raise StorageUnavailableError(
                f"{len(failed)} of {len(pending)} messages refused ({type(failed[0]).__name__})"
            )

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1

                batching = pubsub_v1.types.BatchSettings(max_latency=self._max_latency_s, max_messages=500)
                self._client = pubsub_v1.PublisherClient(batch_settings=batching)
            return self._client
