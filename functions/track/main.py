"""Cloud Function (2nd gen) for the track topic: its push subscription delivers here.

Decode, validate, deliver, dead-letter: see `customerio_gcp.delivery.handler` for what each
outcome means for Pub/Sub. `build` makes its handler on the first request (`customerio_gcp.wiring`).
"""

import functions_framework
from cloudevents.http import CloudEvent

from customerio_gcp.wiring import entry_point
from customerio_gcp.wiring.track import build

handle = entry_point(build)


@functions_framework.cloud_event
def track(event: CloudEvent) -> None:
    handle(event)
