"""Topic names and delivery settings, read from `pipeline.json` — the file Terraform reads too."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from customerio_gcp.messages.models import TopicKind

TOPIC_KINDS: tuple[TopicKind, ...] = ("identify", "track", "transactional")


@dataclass(frozen=True)
class DeliverySettings:
    max_delivery_attempts: int
    minimum_backoff_s: int
    maximum_backoff_s: int
    ack_deadline_s: int
    message_retention_s: int


@dataclass(frozen=True)
class TopicSpec:
    kind: TopicKind
    topic: str
    function: str
    dead_letter_topic: str
    push_subscription: str
    dead_letter_subscription: str


@dataclass(frozen=True)
class PipelineConfig:
    topics: dict[TopicKind, TopicSpec]
    webhook_events_topic: str
    delivery: DeliverySettings
    dead_letter_retention_s: int

    def for_local_run(self) -> PipelineConfig:
        """The same pipeline with `local_overrides` applied (fewer attempts, shorter backoff)."""
        overrides = {k: v for k, v in _raw()["local_overrides"].items() if not k.startswith("_")}
        return replace(self, delivery=replace(self.delivery, **overrides))


def _raw() -> dict[str, Any]:
    text = resources.files("customerio_gcp").joinpath("pipeline.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def load() -> PipelineConfig:
    raw = _raw()
    topics: dict[TopicKind, TopicSpec] = {}
    for kind in TOPIC_KINDS:
        entry = raw["topics"][kind]
        topic = entry["topic"]
        topics[kind] = TopicSpec(
            kind=kind,
            topic=topic,
            function=entry["function"],
            dead_letter_topic=topic + raw["dead_letter_suffix"],
            push_subscription=topic + raw["push_subscription_suffix"],
            dead_letter_subscription=topic + raw["dead_letter_subscription_suffix"],
        )
    delivery = DeliverySettings(**raw["delivery"])
    return PipelineConfig(topics, raw["webhook_events_topic"], delivery, raw["dead_letter_retention_s"])
