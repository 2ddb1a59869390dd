"""Customer.io's documented limits, checked before a request leaves the process.

Sending a request that must fail wastes rate budget and, in the pipeline, a delivery attempt; a
`LimitExceededError` names the limit so the dead-letter reason tells an operator what to fix.
"KB" limits are read as decimal (32,000 / 500,000 bytes): the conservative reading, since
Customer.io does not say which it means.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from customerio_gcp.customerio.errors import LimitExceededError

IDENTIFIER_MAX_BYTES = 150
ATTRIBUTE_NAME_MAX_BYTES = 150
ATTRIBUTE_VALUE_MAX_BYTES = 1000
ATTRIBUTES_MAX_COUNT = 300
EVENT_NAME_MAX_BYTES = 100
EVENT_DATA_MAX_BYTES = 100_000
V2_OPERATION_MAX_BYTES = 32_000
V2_BATCH_MAX_BYTES = 500_000
ATTACHMENTS_MAX_BYTES = 2_000_000
BROADCAST_AUDIENCE_MAX = 10_000


def json_size(value: Any) -> int:
    """Bytes of the compact JSON encoding, as the request body will carry it."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _value_size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else json_size(value)


def check_identifier(value: str) -> None:
    size = len(value.encode())
    if size > IDENTIFIER_MAX_BYTES:
        raise LimitExceededError("identifier", size, IDENTIFIER_MAX_BYTES)


def check_attributes(attributes: Mapping[str, Any]) -> None:
    if len(attributes) > ATTRIBUTES_MAX_COUNT:
        raise LimitExceededError("attribute count", len(attributes), ATTRIBUTES_MAX_COUNT, "attributes")
    for name, value in attributes.items():
        name_size = len(name.encode())
        if name_size > ATTRIBUTE_NAME_MAX_BYTES:
            raise LimitExceededError("attribute name", name_size, ATTRIBUTE_NAME_MAX_BYTES)
        value_size = _value_size(value)
        if value_size > ATTRIBUTE_VALUE_MAX_BYTES:
            # The attribute name is schema, not personal data; the value never appears.
            raise LimitExceededError(f"value of attribute {name[:40]!r}", value_size, ATTRIBUTE_VALUE_MAX_BYTES)


def check_event(name: str, data: Mapping[str, Any] | None) -> None:
    name_size = len(name.encode())
    if name_size > EVENT_NAME_MAX_BYTES:
        raise LimitExceededError("event name", name_size, EVENT_NAME_MAX_BYTES)
    if data:
        data_size = json_size(data)
        if data_size > EVENT_DATA_MAX_BYTES:
            raise LimitExceededError("event data", data_size, EVENT_DATA_MAX_BYTES)


def check_v2_operation(operation: Mapping[str, Any]) -> int:
    """Return the operation's encoded size so batch packing does not encode it twice."""
    size = json_size(operation)
    if size > V2_OPERATION_MAX_BYTES:
        raise LimitExceededError("v2 operation", size, V2_OPERATION_MAX_BYTES)
    return size


def check_audience(name: str, count: int) -> None:
    if count > BROADCAST_AUDIENCE_MAX:
        raise LimitExceededError(f"broadcast {name}", count, BROADCAST_AUDIENCE_MAX, "entries")


def check_attachments(attachments: Mapping[str, str] | None) -> None:
    """Attachments are base64 and under 2 MB in all (what Customer.io receives, encoded)."""
    if not attachments:
        return
    total = 0
    for content in attachments.values():
        try:
            base64.b64decode(content, validate=True)
        except ValueError as exc:
            raise ValueError("attachment content must be base64") from exc
        total += len(content)
    if total > ATTACHMENTS_MAX_BYTES:
        raise LimitExceededError("attachments", total, ATTACHMENTS_MAX_BYTES)


def check_email_content(template: int | str | None, body: str | None, subject: str | None, sender: str | None) -> None:
    """An email is a template (`transactional_message_id`) or inline body, subject and from."""
    if template is None and not (body and subject and sender):
        raise ValueError("an email needs transactional_message_id, or body, subject and from")


BROADCAST_AUDIENCES = ("recipients", "emails", "ids", "per_user_data", "data_file_url")


def check_broadcast_audience(audiences: Mapping[str, Any]) -> None:
    """At most one audience form; no empty recipients filter (Customer.io answers 422); lists
    within the documented size. `audiences` maps each form to its value (None when not given)."""
    given = [name for name in BROADCAST_AUDIENCES if audiences.get(name) is not None]
    if len(given) > 1:
        raise ValueError(f"a broadcast takes at most one audience, got {', '.join(given)}")
    if audiences.get("recipients") is not None and not audiences["recipients"]:
        raise ValueError("an empty recipients filter is refused by Customer.io (422)")
    for name in ("emails", "ids", "per_user_data"):
        value = audiences.get(name)
        if value is not None:
            check_audience(name, len(value))
