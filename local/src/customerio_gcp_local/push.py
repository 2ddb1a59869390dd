"""Pub/Sub push bodies for testing functions fed by push, without hand-building base64 envelopes.

body = push_body(b'{"op": "suppress", "identifiers": {"id": "u1"}}', op="suppress")
httpx.post(function_url, json=body)          # what a push subscription sends
handle(cloud_event_data(body))               # what functions-framework hands the function
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime
from typing import Any

_ids = itertools.count(1)


def push_body(
    data: bytes,
    *,
    message_id: str | None = None,
    subscription: str = "projects/local/subscriptions/test",
    delivery_attempt: int | None = None,
    **attributes: str,
) -> dict[str, Any]:
    """The JSON body a Pub/Sub push subscription POSTs to its endpoint."""
    body: dict[str, Any] = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": message_id or f"test-{next(_ids)}",
            "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
        "subscription": subscription,
    }
    if delivery_attempt is not None:
        body["deliveryAttempt"] = delivery_attempt
    return body


def cloud_event_data(body: dict[str, Any]) -> dict[str, Any]:
    """The CloudEvent `data` functions-framework makes of a push body (it drops `subscription`)."""
    return {"message": dict(body["message"])}
