"""The cold-start baseline: a bare CloudEvent function that imports only httpx."""

import functions_framework
import httpx
from cloudevents.http import CloudEvent

client = httpx.Client()


@functions_framework.cloud_event
def baseline(event: CloudEvent) -> None:
    return None
