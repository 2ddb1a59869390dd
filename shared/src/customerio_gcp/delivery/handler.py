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
from enum import StrEnum
from typing import Any

from customerio_gcp.delivery.dead_letter import DeadLetterPublisher, dead_letter_attributes
from customerio_gcp.delivery.push import PushedMessage
from customerio_gcp.errors import Error, Verdict, classify
from customerio_gcp.messages.codec import decode
from customerio_gcp.messages.models import TopicKind
from customerio_gcp.observability import correlation_scope, log
from customerio_gcp.service import MessagingService


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"


class PubSubDelivery:
    """The callable behind each Pub/Sub-fed function. It receives its parts; building them from
    the environment is the composition root's job (`customerio_gcp.wiring`)."""

    def __init__(
        self,
        topic: TopicKind,
        service: MessagingService,
        dead_letter: DeadLetterPublisher | None,
        source_subscription: str | None = None,
    ) -> None:
        self.topic = topic
        self._service = service
        self._dead_letter_publisher = dead_letter
        self._source_subscription = source_subscription

    def __call__(self, event: Any) -> DeliveryOutcome:
        """Accepts a CloudEvent (anything with `.data`) or the event data itself."""
        return self.deliver(PushedMessage.from_event_data(getattr(event, "data", event)))

    def deliver(self, pushed: PushedMessage) -> DeliveryOutcome:
        with correlation_scope(
            message_id=pushed.message_id,
            function=self.topic,
            op=pushed.attributes.get("op"),
            pubsub_attempt=_attempt(pushed),
        ):
            try:
                message = decode(self.topic, pushed.data)
                handled = self._service.handle(message, published_at=pushed.published_at)
            except Exception as error:
                verdict = classify(error)
                if not verdict.retry:
                    self._dead_letter(pushed, verdict)
                    return DeliveryOutcome.DEAD_LETTERED
                log(
                    logging.WARNING if isinstance(error, Error) else logging.ERROR,
                    "delivery failed; Pub/Sub will redeliver",
                    metric="delivery",
                    outcome="retry",
                    error_class=verdict.error_class,
                    reason=verdict.reason,
                )
                raise
            outcome = "skipped_deleted" if "skipped" in handled.details else "delivered"
            log(logging.INFO, f"message {outcome}", metric="delivery", outcome=outcome, **handled.details)
            return DeliveryOutcome.DELIVERED

    def _dead_letter(self, pushed: PushedMessage, verdict: Verdict) -> None:
        attributes = dead_letter_attributes(
            pushed, verdict, function=self.topic, source_subscription=self._source_subscription
        )
        publisher = self._dead_letter_publisher
        if publisher is None:
            # Without a topic the only safe choice is to keep the message: fail, so it is retried
            # and Pub/Sub's own dead-letter policy catches it after the configured attempts.
            log(logging.ERROR, "permanent failure but no DEAD_LETTER_TOPIC is configured", metric="delivery",
                outcome="retry", error_class=verdict.error_class, reason=attributes["dlq_reason"])  # fmt: skip
            raise NoDeadLetterTopicError(verdict.reason)
        try:
            dead_letter_id = publisher.publish(pushed, attributes)
        except Exception as publish_error:
            log(logging.ERROR, "dead-letter publish failed; the message will be redelivered", metric="delivery",
                outcome="retry", error_class=type(publish_error).__name__, reason=attributes["dlq_reason"])  # fmt: skip
            raise
        log(
            logging.WARNING,
            "message dead-lettered",
            metric="delivery",
            outcome="dead_lettered",
            error_class=verdict.error_class,
            reason=attributes["dlq_reason"],
            dead_letter_topic=publisher.topic_path,
            dead_letter_message_id=dead_letter_id,
        )


class NoDeadLetterTopicError(RuntimeError):
    """A permanent failure with nowhere to put it: answered 500 so Pub/Sub keeps the message."""


def _attempt(pushed: PushedMessage) -> str | None:
    return str(pushed.delivery_attempt) if pushed.delivery_attempt else None
