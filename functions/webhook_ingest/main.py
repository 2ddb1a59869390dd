"""Cloud Function (2nd gen), public HTTPS: Customer.io's reporting webhook points here.

Verification, validation, BigQuery and routing are the service layer's; see
`customerio_gcp.webhooks.handler` for every answer and why.
"""

import functions_framework
from flask import Request

from customerio_gcp.settings import Settings
from customerio_gcp.webhooks.handler import flask_response
from customerio_gcp.wiring import build_webhook_handler

handler = build_webhook_handler(Settings.from_env())


@functions_framework.http
def webhook_ingest(request: Request) -> tuple[str, int, dict[str, str]]:
    return flask_response(handler, request)
