"""Publishing a permanently failed message to its dead-letter topic, with the reason attached.

The original bytes and attributes are kept as they were, so `dlq replay` can re-publish the
message unchanged (same event ULID, same idempotency key). Our attributes are prefixed `dlq_`
and hold nothing personal: error class, a redacted reason, where the message came from.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from customerio_gcp.delivery.push import PushedMessage
from customerio_gcp.errors import Verdict
from customerio_gcp.redaction import redact

ATTRIBUTE_PREFIX = "dlq_"


def dead_letter_attributes(
    message: PushedMessage, verdict: Verdict, *, function: str, source_subscription: str | None
) -> dict[str, str]:
    return {
        **message.attributes,
        "dlq_error_class": verdict.error_class,
        "dlq_reason": redact(verdict.reason, limit=500),
        "dlq_status": str(verdict.status) if verdict.status is not None else "",
        "dlq_function": function,
        "dlq_source_subscription": message.subscription or source_subscription or "unknown",
        "dlq_original_message_id": message.message_id,
        "dlq_original_publish_time": message.publish_time or "",
        "dlq_attempt": str(message.delivery_attempt) if message.delivery_attempt else "unknown",
        "dlq_dead_lettered_at": datetime.now(UTC).isoformat(),
    }


class DeadLetterPublisher:
    """Publishes to one dead-letter topic; the Pub/Sub client is created at the first failure,
    so a function that never dead-letters never imports it."""

    def __init__(self, topic_path: str, *, timeout: float = 30.0, client: Any = None) -> None:
        if not topic_path.startswith("projects/"):
            raise ValueError("the dead-letter topic must be a full path: projects/<project>/topics/<topic>")
        self.topic_path = topic_path
        self._timeout = timeout
        self._client = client
        self._lock = threading.Lock()

    def publish(self, message: PushedMessage, attributes: dict[str, str]) -> str:
        """Returns the dead letter's message id; raises if Pub/Sub did not accept it."""
        future = self._get_client().publish(self.topic_path, message.data, **attributes)
        message_id: str = future.result(timeout=self._timeout)
        return message_id

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1

                self._client = pubsub_v1.PublisherClient()
            return self._client
