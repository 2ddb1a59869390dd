"""Cloud Function (2nd gen) for the identify topic: a push subscription delivers here.

All handling (decode, validate, deliver, dead-letter) is the service layer's; see
`customerio_gcp.delivery.handler` for what each outcome means for Pub/Sub.
"""

import functions_framework
from cloudevents.http import CloudEvent

from customerio_gcp.delivery import PubSubDelivery

handle = PubSubDelivery.for_topic("identify")


@functions_framework.cloud_event
def identify(event: CloudEvent) -> None:
    handle(event)
