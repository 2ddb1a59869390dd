"""Bytes on the wire <-> message models, with errors safe to put in a dead-letter attribute."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from customerio_gcp.customerio.errors import LimitExceededError
from customerio_gcp.errors import PermanentError
from customerio_gcp.messages.models import (
    SCHEMA_VERSION,
    IdentifyTopicMessage,
    Message,
    TopicKind,
    TrackTopicMessage,
    TransactionalTopicMessage,
)

_UNIONS: dict[TopicKind, Any] = {
    "identify": IdentifyTopicMessage,
    "track": TrackTopicMessage,
    "transactional": TransactionalTopicMessage,
}


@cache
def adapter(topic: TopicKind) -> TypeAdapter[Any]:
    """The validator of one topic's messages, built on first use: a function validates only its
    own topic, and building all three would cost every cold start (models defer theirs too)."""
    return TypeAdapter(_UNIONS[topic])


class InvalidMessageError(PermanentError):
    """The message can never be delivered as it is: bad JSON, unknown version, invalid fields."""


def encode(message: Message) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_none=True).encode()


def decode(topic: TopicKind, data: bytes) -> Message:
    """Parse and validate one message of `topic`. Reasons name fields, never their values."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidMessageError(f"message is not JSON ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise InvalidMessageError("message is not a JSON object")
    version = raw.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        shown = version if isinstance(version, int) else type(version).__name__
        raise InvalidMessageError(f"unsupported message version {shown}; this consumer reads v{SCHEMA_VERSION}")
    try:
        message: Message = adapter(topic).validate_python(raw)
    except ValidationError as exc:
        raise InvalidMessageError(describe_validation_error(exc)) from None
    except LimitExceededError:
        raise
    return message


def describe_validation_error(exc: ValidationError) -> str:
    """`field: problem` for the first few errors, built from locations and types only."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:3]:
        location = ".".join(str(p) for p in error["loc"]) or "message"
        text = error["msg"] if error["type"] in ("value_error", "assertion_error") else error["type"]
        parts.append(f"{location}: {text}")
    more = len(exc.errors()) - len(parts)
    return "invalid message: " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
