"""The identify function's parts: the service with the attribute-hash store (skip unchanged
identifies) and the deletion tombstones."""

from __future__ import annotations

from customerio_gcp.delivery.dead_letter import DeadLetterPublisher
from customerio_gcp.delivery.handler import PubSubDelivery
from customerio_gcp.observability import configure_logging
from customerio_gcp.settings import Settings
from customerio_gcp.wiring.clients import build_service
from customerio_gcp.wiring.stores import build_hash_store, build_tombstone_store


def build(settings: Settings) -> PubSubDelivery:
    configure_logging(settings.log_level)
    dead_letter = DeadLetterPublisher(settings.dead_letter_topic) if settings.dead_letter_topic else None
    service = build_service(
        settings,
        hash_store=build_hash_store(settings),
        tombstone_store=build_tombstone_store(settings),
        coalesce=True,
    )
    return PubSubDelivery("identify", service, dead_letter, settings.source_subscription)
