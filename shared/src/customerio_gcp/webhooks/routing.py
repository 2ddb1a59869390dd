"""Publishing accepted events to a Pub/Sub topic so the application can react without polling
BigQuery: suppress a bouncing address, honour an unsubscribe. Attributes `object_type`,
`metric` and `event_id` let subscriptions filter; the body is the event as received."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

from customerio_gcp.webhooks.events import ReportingEvent


class EventRouter:
    def __init__(
        self, topic_path: str, *, metrics: Iterable[str] | None = None, client: Any = None, timeout: float = 3.0
    ) -> None:
        """`metrics` limits what is routed (e.g. bounced, spammed, unsubscribed); None routes all."""
        self.topic_path = topic_path
        self.metrics = frozenset(metrics) if metrics else None
        self._client = client
        self._timeout = timeout
        self._lock = threading.Lock()

    def wants(self, event: ReportingEvent) -> bool:
        return self.metrics is None or event.metric in self.metrics

    def publish(self, events: list[tuple[ReportingEvent, dict[str, Any]]]) -> int:
        """Publish the wanted events; returns how many. Raises if Pub/Sub did not take one."""
        client = self._get_client()
        futures = [
            client.publish(
                self.topic_path,
                json.dumps(raw, separators=(",", ":")).encode(),
                object_type=event.object_type,
                metric=event.metric,
                event_id=event.event_id,
            )
            for event, raw in events
            if self.wants(event)
        ]
        for future in futures:
            future.result(timeout=self._timeout)
        return len(futures)

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1

                self._client = pubsub_v1.PublisherClient()
            return self._client
