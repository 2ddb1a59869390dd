"""Cloud Function (2nd gen), public HTTPS: Customer.io's reporting webhook points here.

Verify, answer, keep: see `customerio_gcp.webhooks.handler` for every answer and why. `build`
makes its handler on the first request (`customerio_gcp.wiring`).
"""

import functions_framework
from flask import Request

from customerio_gcp.wiring import entry_point
from customerio_gcp.wiring.webhook_ingest import build

handle = entry_point(build)


@functions_framework.http
def webhook_ingest(request: Request) -> tuple[str, int, dict[str, str]]:
    return handle(request)
