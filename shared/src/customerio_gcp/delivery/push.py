"""The Pub/Sub message inside a push request, as functions-framework hands it over.

functions-framework turns a raw push body into a CloudEvent whose `data` is
`{"message": {"data": <base64>, "attributes", "messageId", "publishTime"}}`; it drops the
`subscription` and the emulator never sends `deliveryAttempt`, so neither is relied upon.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class MalformedPushError(ValueError):
    """The request is not a Pub/Sub push at all; there is no message to dead-letter."""


@dataclass(frozen=True)
class PushedMessage:
    message_id: str
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    publish_time: str | None = None
    delivery_attempt: int | None = None
    subscription: str | None = None

    @property
    def published_at(self) -> float | None:
        """The publish time as unix seconds (Pub/Sub sends RFC 3339 with up to nanoseconds)."""
        if not self.publish_time:
            return None
        text = self.publish_time.strip().replace("Z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:  # keep microseconds: fromisoformat takes at most six fraction digits
            digits = "".join(itertools.takewhile(str.isdigit, rest))
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None

    @classmethod
    def from_event_data(cls, payload: Any) -> PushedMessage:
        """Read the CloudEvent `data` (or a raw push body, which has the same `message`)."""
        if not isinstance(payload, Mapping) or not isinstance(payload.get("message"), Mapping):
            raise MalformedPushError("no Pub/Sub message in the request")
        message = payload["message"]
        message_id = message.get("messageId") or message.get("message_id")
        if not message_id:
            raise MalformedPushError("Pub/Sub message without messageId")
        try:
            data = base64.b64decode(message.get("data") or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedPushError("message data is not base64") from exc
        attempt = payload.get("deliveryAttempt")
        attributes = message.get("attributes") or {}
        return cls(
            message_id=str(message_id),
            data=data,
            attributes={str(k): str(v) for k, v in attributes.items()},
            publish_time=message.get("publishTime") or message.get("publish_time"),
            delivery_attempt=attempt if isinstance(attempt, int) else None,
            subscription=payload.get("subscription"),
        )
