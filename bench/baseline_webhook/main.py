"""The webhook path this project had before durable-first ingest, kept only as the benchmark's
baseline: verify, then insert the row into BigQuery within the request, one insert per request."""

import json
import os
import time
from datetime import UTC, datetime

import functions_framework
from customerio_gcp_local.bigquery import bigquery_client
from customerio_gcp_local.bigquery_subscription import BigQuerySubscription
from flask import Request

from customerio_gcp.webhooks.events import parse_event
from customerio_gcp.webhooks.rows import PersonalData, to_row
from customerio_gcp.webhooks.signature import verify

PROJECT = os.environ["GOOGLE_CLOUD_PROJECT"]
TABLE = f"{PROJECT}.{os.environ['BIGQUERY_DATASET']}.events"
KEY = os.environ["CIO_WEBHOOK_SIGNING_KEY"]
client = bigquery_client(PROJECT, os.environ["BIGQUERY_ENDPOINT"])
convert = BigQuerySubscription("unused", TABLE, "unused", client)._row  # the table's JSON conversions


@functions_framework.http
def webhook_insert(request: Request) -> tuple[str, int]:
    body = request.get_data()
    verify(dict(request.headers), body, [KEY])
    raw = json.loads(body)
    row = convert(to_row(parse_event(raw), raw, datetime.fromtimestamp(time.time(), UTC), PersonalData.HASH))
    errors = client.insert_rows_json(TABLE, [row], row_ids=[row["event_id"]])
    return ("", 503) if errors else ("", 200)
