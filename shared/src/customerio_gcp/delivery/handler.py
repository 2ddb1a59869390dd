"""Deliver one pushed message through the service, and decide its fate.

- delivered -> return normally: the function answers 2xx and Pub/Sub acks;
- transient (timeouts, 429, 5xx, a send in progress elsewhere) -> raise: the function answers
  500, Pub/Sub redelivers with the subscription's backoff, and after `max_delivery_attempts`
  moves the message to the dead-letter topic itself;
- permanent (invalid message, unknown version, a 4xx other than 408/429) -> publish the original
  to the dead-letter topic with the reason, then return: no retry is burnt on it. If that publish
  fails, raise, so the message is retried rather than lost;
- anything unexpected is treated as transient: a bug or an outage must not drop messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from customerio_gcp.customerio.errors import PermanentError
from customerio_gcp.delivery.dead_letter import DeadLetterPublisher, dead_letter_attributes
from customerio_gcp.delivery.push import PushedMessage
from customerio_gcp.messages.codec import decode
from customerio_gcp.messages.models import TopicKind
from customerio_gcp.observability import configure_logging, correlation_scope, log
from customerio_gcp.service import MessagingService
from customerio_gcp.settings import Settings


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class _Runtime:
    service: MessagingService
    dead_letter: DeadLetterPublisher | None
    source_subscription: str | None


class PubSubDelivery:
    """The callable behind each Pub/Sub-fed function. Builds its runtime once per process."""

    def __init__(self, topic: TopicKind, runtime_factory: Callable[[], _Runtime]) -> None:
        self.topic = topic
        self._factory = runtime_factory
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_topic(cls, topic: TopicKind, settings: Settings | None = None) -> PubSubDelivery:
        """Production wiring from the environment (see `customerio_gcp.settings`)."""

        def factory() -> _Runtime:
            from customerio_gcp.wiring import build_service

            resolved = settings or Settings.from_env()
            configure_logging(resolved.log_level)
            dead_letter = DeadLetterPublisher(resolved.dead_letter_topic) if resolved.dead_letter_topic else None
            return _Runtime(build_service(resolved), dead_letter, resolved.source_subscription)

        return cls(topic, factory)

    @classmethod
    def with_parts(
        cls,
        topic: TopicKind,
        service: MessagingService,
        dead_letter: DeadLetterPublisher | None,
        source_subscription: str | None = None,
    ) -> PubSubDelivery:
        runtime = _Runtime(service, dead_letter, source_subscription)
        return cls(topic, lambda: runtime)

    def __call__(self, event: Any) -> DeliveryOutcome:
        """Accepts a CloudEvent (anything with `.data`) or the event data itself."""
        return self.deliver(PushedMessage.from_event_data(getattr(event, "data", event)))

    def deliver(self, pushed: PushedMessage) -> DeliveryOutcome:
        runtime = self._get_runtime()
        with correlation_scope(
            message_id=pushed.message_id,
            function=self.topic,
            op=pushed.attributes.get("op"),
            pubsub_attempt=_attempt(pushed),
        ):
            try:
                message = decode(self.topic, pushed.data)
                # `replayed_from` is set by `customerio-gcp dlq replay`: an operator's decision.
                handled = runtime.service.handle(message, replayed="replayed_from" in pushed.attributes)
            except PermanentError as error:
                self._dead_letter(runtime, pushed, error)
                return DeliveryOutcome.DEAD_LETTERED
            except Exception as error:
                retryable = getattr(error, "retryable", None)
                log(
                    logging.WARNING if retryable else logging.ERROR,
                    "delivery failed; Pub/Sub will redeliver",
                    metric="delivery",
                    outcome="retry",
                    error_class=type(error).__name__,
                    reason=getattr(error, "reason", "unexpected error"),
                )
                raise
            log(logging.INFO, "message delivered", metric="delivery", outcome="delivered", **handled.details)
            return DeliveryOutcome.DELIVERED

    def _dead_letter(self, runtime: _Runtime, pushed: PushedMessage, error: PermanentError) -> None:
        attributes = dead_letter_attributes(
            pushed, error, function=self.topic, source_subscription=runtime.source_subscription
        )
        if runtime.dead_letter is None:
            # Without a topic the only safe choice is to keep the message: fail, so it is retried
            # and Pub/Sub's own dead-letter policy catches it after the configured attempts.
            log(logging.ERROR, "permanent failure but no DEAD_LETTER_TOPIC is configured", metric="delivery",
                outcome="retry", error_class=error.error_class, reason=attributes["dlq_reason"])  # fmt: skip
            raise error
        try:
            dead_letter_id = runtime.dead_letter.publish(pushed, attributes)
        except Exception as publish_error:
            log(logging.ERROR, "dead-letter publish failed; the message will be redelivered", metric="delivery",
                outcome="retry", error_class=type(publish_error).__name__, reason=attributes["dlq_reason"])  # fmt: skip
            raise
        log(
            logging.WARNING,
            "message dead-lettered",
            metric="delivery",
            outcome="dead_lettered",
            error_class=error.error_class,
            reason=attributes["dlq_reason"],
            dead_letter_topic=runtime.dead_letter.topic_path,
            dead_letter_message_id=dead_letter_id,
        )

    def _get_runtime(self) -> _Runtime:
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = self._factory()
        return self._runtime


def _attempt(pushed: PushedMessage) -> str | None:
    return str(pushed.delivery_attempt) if pushed.delivery_attempt else None
