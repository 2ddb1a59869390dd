"""What every Pub/Sub-fed function shares: decode a push, deliver, classify, dead-letter.

A function's entry point is two lines (see `functions/identify/main.py`):

    handle = PubSubDelivery.for_topic("identify")

    @functions_framework.cloud_event
    def identify(event): handle(event)
"""

from customerio_gcp.delivery.dead_letter import DeadLetterPublisher
from customerio_gcp.delivery.handler import DeliveryOutcome, PubSubDelivery
from customerio_gcp.delivery.push import PushedMessage

__all__ = ["DeadLetterPublisher", "DeliveryOutcome", "PubSubDelivery", "PushedMessage"]
