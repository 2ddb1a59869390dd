"""The track function's parts: the service with the deletion tombstones (events need no
send-once store: their ULIDs de-duplicate at Customer.io)."""

from __future__ import annotations

from customerio_gcp.delivery.dead_letter import DeadLetterPublisher
from customerio_gcp.delivery.handler import PubSubDelivery
from customerio_gcp.observability import configure_logging
from customerio_gcp.settings import Settings
from customerio_gcp.wiring.clients import build_service
from customerio_gcp.wiring.stores import build_tombstone_store


def build(settings: Settings) -> PubSubDelivery:
    configure_logging(settings.log_level)
    dead_letter = DeadLetterPublisher(settings.dead_letter_topic) if settings.dead_letter_topic else None
    service = build_service(settings, tombstone_store=build_tombstone_store(settings), coalesce=True)
    return PubSubDelivery("track", service, dead_letter, settings.source_subscription)
