"""What every Pub/Sub-fed function shares: decode a push, deliver, classify, dead-letter.

A function's entry point is a few lines (see `functions/identify/main.py`):

    handle = entry_point("identify")        # customerio_gcp.wiring: built on the first request

    @functions_framework.cloud_event
    def identify(event): handle(event)
"""

from customerio_gcp.delivery.dead_letter import DeadLetterPublisher
from customerio_gcp.delivery.handler import DeliveryOutcome, PubSubDelivery
from customerio_gcp.delivery.push import PushedMessage

__all__ = ["DeadLetterPublisher", "DeliveryOutcome", "PubSubDelivery", "PushedMessage"]
