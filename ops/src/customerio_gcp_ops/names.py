"""Resolve the pipeline's resource paths for one project (and an optional name suffix, as the
local stack and tests use)."""

from __future__ import annotations

from dataclasses import dataclass

from customerio_gcp.messages.models import TopicKind
from customerio_gcp.pipeline import TOPIC_KINDS, load


@dataclass(frozen=True)
class Paths:
    kind: TopicKind
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
