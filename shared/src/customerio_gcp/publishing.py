"""Validate, then publish to the pipeline's topics: how application code hands work over.

A message that fails validation is refused here with `InvalidMessageError`, before it costs a
publish, a delivery attempt and a dead letter. Attributes carry only routing facts (`op`, `v`,
`kind`), never identifiers: attributes are visible to anyone who can list a subscription.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from customerio_gcp.customerio.errors import LimitExceededError
from customerio_gcp.messages.codec import (
    InvalidMessageError,
    describe_validation_error,
    encode,
)
from customerio_gcp.messages.models import TOPIC_OF, Message, TopicKind
from customerio_gcp.pipeline import load as load_pipeline

if TYPE_CHECKING:
    from google.cloud.pubsub_v1 import PublisherClient

_ANY_MESSAGE: TypeAdapter[Message] = TypeAdapter(Annotated[Message, Field(discriminator="op")])


def validate(message: Message | Mapping[str, Any]) -> Message:
    """A model as it is (re-validated), or a dict parsed into the model its `op` names."""
    raw = message.model_dump(by_alias=True, exclude_none=True) if not isinstance(message, Mapping) else message
    try:
        return _ANY_MESSAGE.validate_python(dict(raw))
    except ValidationError as exc:
        raise InvalidMessageError(describe_validation_error(exc)) from None
    except LimitExceededError as exc:
        raise InvalidMessageError(str(exc)) from None


class Publisher:
    """Publishes messages to the identify, track and transactional topics of one project."""

    def __init__(
        self,
        project: str,
        *,
        client: PublisherClient | None = None,
        topics: Mapping[TopicKind, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """`topics` maps a topic kind to a topic id; by default the names in `pipeline.json`."""
        if client is None:
            from google.cloud.pubsub_v1 import PublisherClient

            client = PublisherClient()
        self._client = client
        names = topics or {kind: spec.topic for kind, spec in load_pipeline().topics.items()}
        self._paths = {kind: client.topic_path(project, name) for kind, name in names.items()}
        self._timeout = timeout

    def topic_path(self, kind: TopicKind) -> str:
        return str(self._paths[kind])

    def publish(self, message: Message | Mapping[str, Any], **extra_attributes: str) -> str:
        """Validate and publish one message; returns its Pub/Sub message id once accepted."""
        valid = validate(message)
        kind = TOPIC_OF[type(valid)]
        future = self._client.publish(
            self._paths[kind], encode(valid), op=valid.op, v=str(valid.v), kind=kind, **extra_attributes
        )
        message_id: str = future.result(timeout=self._timeout)
        return message_id

    def publish_many(self, messages: Iterable[Message | Mapping[str, Any]]) -> list[str]:
        """Validate all first (nothing is published if one is invalid), then publish in parallel."""
        valid = [validate(message) for message in messages]
        futures = []
        for message in valid:
            kind = TOPIC_OF[type(message)]
            futures.append(
                self._client.publish(self._paths[kind], encode(message), op=message.op, v=str(message.v), kind=kind)
            )
        return [str(f.result(timeout=self._timeout)) for f in futures]
