"""Create the pipeline's topics and subscriptions on a Pub/Sub endpoint (the emulator, locally).

The same names and delivery settings as Terraform deploys, from `pipeline.json`: for each topic a
dead-letter topic, a pull subscription on it that keeps dead letters for inspection, and the
delivery subscription (Terraform's push subscription, same name) with the ack deadline, retry and
dead-letter policies. Locally the delivery subscription has no push endpoint: the emulator's push
loop can stall for good under sustained failures, so `customerio_gcp_local.pusher.PullPusher`
pulls from it and pushes to the function with Pub/Sub push's semantics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from customerio_gcp.messages.models import TopicKind
from customerio_gcp.pipeline import PipelineConfig

# Pub/Sub allows 31 days of subscription retention (what Terraform sets for dead letters); the
# emulator still refuses more than the old maximum of 7 days.
EMULATOR_MAX_SUBSCRIPTION_RETENTION_S = 7 * 24 * 3600


@dataclass(frozen=True)
class TopicPaths:
    topic: str
    dead_letter_topic: str
    push_subscription: str
    dead_letter_subscription: str


def create_topology(
    project: str, config: PipelineConfig, kinds: Iterable[TopicKind], *, suffix: str = ""
) -> dict[TopicKind, TopicPaths]:
    """Topics and subscriptions for `kinds`. `suffix` isolates test runs. Nothing here pushes:
    the caller starts a `PullPusher` on each `push_subscription`."""
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    delivery = config.delivery
    created: dict[TopicKind, TopicPaths] = {}
    wanted = set(kinds)
    try:
        for kind, spec in config.topics.items():
            if kind not in wanted:
                continue
            paths = TopicPaths(
                topic=publisher.topic_path(project, spec.topic + suffix),
                dead_letter_topic=publisher.topic_path(project, spec.dead_letter_topic + suffix),
                push_subscription=subscriber.subscription_path(project, spec.push_subscription + suffix),
                dead_letter_subscription=subscriber.subscription_path(project, spec.dead_letter_subscription + suffix),
            )
            publisher.create_topic(name=paths.topic)
            publisher.create_topic(name=paths.dead_letter_topic)
            subscriber.create_subscription(
                request={
                    "name": paths.dead_letter_subscription,
                    "topic": paths.dead_letter_topic,
                    "ack_deadline_seconds": 60,
                    "message_retention_duration": duration_pb2.Duration(
                        seconds=min(config.dead_letter_retention_s, EMULATOR_MAX_SUBSCRIPTION_RETENTION_S)
                    ),
                }
            )
            request: dict[str, Any] = {
                "name": paths.push_subscription,
                "topic": paths.topic,
                "ack_deadline_seconds": delivery.ack_deadline_s,
                "message_retention_duration": duration_pb2.Duration(seconds=delivery.message_retention_s),
                "retry_policy": {
                    "minimum_backoff": duration_pb2.Duration(seconds=delivery.minimum_backoff_s),
                    "maximum_backoff": duration_pb2.Duration(seconds=delivery.maximum_backoff_s),
                },
                "dead_letter_policy": {
                    "dead_letter_topic": paths.dead_letter_topic,
                    "max_delivery_attempts": delivery.max_delivery_attempts,
                },
            }
            subscriber.create_subscription(request=request)
            created[kind] = paths
    finally:
        subscriber.close()
    return created
