"""Topic names and delivery settings, read from `pipeline.json` — the file Terraform reads too."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from types import MappingProxyType
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
class WebhookNames:
    """Where webhook-ingest keeps what it accepts, and who reads it (see `pipeline.json`)."""

    events_topic: str
    bigquery_subscription: str
    bigquery_dead_letter_topic: str
    routing_subscription: str
    routed_metrics: tuple[str, ...]
    quarantine_topic: str
    quarantine_subscription: str
    routing_dead_letter_topic: str
    bigquery_dead_letter_subscription: str
    """Where the BigQuery subscription's dead letters wait for `customerio-gcp dlq`."""
    routing_dead_letter_subscription: str

    @property
    def routing_filter(self) -> str:
        """The routing subscription's Pub/Sub filter (Terraform writes the same expression)."""
        return " OR ".join(f'attributes.metric = "{metric}"' for metric in self.routed_metrics)


@dataclass(frozen=True)
class PipelineConfig:
    topics: dict[TopicKind, TopicSpec]
    webhook: WebhookNames
    delivery: DeliverySettings
    dead_letter_retention_s: int
    success_lines: Mapping[str, tuple[str, ...]]
    """metric -> outcomes of the INFO lines that say all went well: the bulk of the log volume,
    which Terraform keeps only a sample of in the log bucket (its log-based metrics count them all)."""

    def is_success_line(self, line: Mapping[str, Any]) -> bool:
        """Whether Terraform's exclusion matches this log line (before its sampling): INFO, with a
        listed metric and one of its outcomes."""
        outcomes = self.success_lines.get(str(line.get("metric")), ())
        return line.get("severity") == "INFO" and line.get("outcome") in outcomes

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
    names = {k: v for k, v in raw["webhook"].items() if not k.startswith("_")}
    webhook = WebhookNames(
        **names | {"routed_metrics": tuple(names["routed_metrics"])},
        routing_dead_letter_topic=names["routing_subscription"] + raw["dead_letter_suffix"],
        bigquery_dead_letter_subscription=names["bigquery_subscription"] + raw["dead_letter_subscription_suffix"],
        routing_dead_letter_subscription=names["routing_subscription"] + raw["dead_letter_subscription_suffix"],
    )
    success_lines = MappingProxyType({k: tuple(v) for k, v in raw["logging"]["success_lines"].items()})
    return PipelineConfig(topics, webhook, delivery, raw["dead_letter_retention_s"], success_lines)
