"""Resolve the pipeline's resource paths for one project (and an optional name suffix, as the
local stack and tests use)."""

from __future__ import annotations

from dataclasses import dataclass

from customerio_gcp.messages.models import TopicKind
from customerio_gcp.pipeline import TOPIC_KINDS, load

WEBHOOK_DEAD_LETTER_KINDS = ("webhook-bigquery", "webhook-routing")
"""The webhook events topic's subscriptions that dead-letter: the BigQuery subscription (a row
BigQuery refused) and the application's routing subscription."""
DEAD_LETTER_KINDS: tuple[str, ...] = (*TOPIC_KINDS, *WEBHOOK_DEAD_LETTER_KINDS)


@dataclass(frozen=True)
class Paths:
    kind: str
    topic: str
    push_subscription: str
    dead_letter_topic: str
    dead_letter_subscription: str


def pipeline_paths(project: str, suffix: str = "") -> dict[TopicKind, Paths]:
    config = load()
    paths = {}
    for kind in TOPIC_KINDS:
        spec = config.topics[kind]
        paths[kind] = Paths(
            kind=kind,
            topic=f"projects/{project}/topics/{spec.topic}{suffix}",
            push_subscription=f"projects/{project}/subscriptions/{spec.push_subscription}{suffix}",
            dead_letter_topic=f"projects/{project}/topics/{spec.dead_letter_topic}{suffix}",
            dead_letter_subscription=f"projects/{project}/subscriptions/{spec.dead_letter_subscription}{suffix}",
        )
    return paths


def dead_letter_paths(project: str, suffix: str = "") -> dict[str, Paths]:
    """Every subscription that dead-letters, by kind: a replay goes back to `topic`. A webhook
    event replayed reaches both of the events topic's subscriptions again; each de-duplicates on
    its `event_id` (the `events_unique` view, the application)."""
    paths: dict[str, Paths] = {str(kind): p for kind, p in pipeline_paths(project, suffix).items()}
    webhook = load().webhook
    events_topic = f"projects/{project}/topics/{webhook.events_topic}{suffix}"
    for kind, subscription, dead_letter_topic, dead_letter_subscription in (
        ("webhook-bigquery", webhook.bigquery_subscription, webhook.bigquery_dead_letter_topic,
         webhook.bigquery_dead_letter_subscription),
        ("webhook-routing", webhook.routing_subscription, webhook.routing_dead_letter_topic,
         webhook.routing_dead_letter_subscription),
    ):  # fmt: skip
        paths[kind] = Paths(
            kind=kind,
            topic=events_topic,
            push_subscription=f"projects/{project}/subscriptions/{subscription}{suffix}",
            dead_letter_topic=f"projects/{project}/topics/{dead_letter_topic}{suffix}",
            dead_letter_subscription=f"projects/{project}/subscriptions/{dead_letter_subscription}{suffix}",
        )
    return paths
