"""Streaming rows into BigQuery, and creating the dataset, table and views from the shared files.

In the cloud Terraform creates the table and views from the same schema and SQL files
(`bigquery/`); `ensure_tables` does it for local runs and tests. Inserts use the event id as the
insert id (BigQuery's best-effort de-duplication) and are all-or-nothing: if any row is refused,
none is written and the request fails, so a retry from Customer.io finds nothing half-written.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from string import Template
from typing import Any

EVENTS_UNIQUE_VIEW_SUFFIX = "_unique"
FUNNEL_VIEW = "delivery_funnel"


class SinkError(RuntimeError):
    """BigQuery refused or could not take the rows: an infrastructure fault, worth a retry."""


def schema_json() -> list[dict[str, Any]]:
    text = resources.files("customerio_gcp.webhooks").joinpath("bigquery/events_table.json").read_text()
    schema: list[dict[str, Any]] = json.loads(text)
    return schema


def view_sql(name: str, *, project: str, dataset: str, table: str) -> str:
    """The SQL of `events_unique` or `delivery_funnel`, with `${...}` placeholders filled.

    The files use `${project}` placeholders that Terraform's `templatefile` fills the same way.
    """
    text = resources.files("customerio_gcp.webhooks").joinpath(f"bigquery/{name}.sql").read_text()
    return Template(text).substitute(
        project=project, dataset=dataset, table=table, unique_view=table + EVENTS_UNIQUE_VIEW_SUFFIX
    )


def bigquery_client(project: str, endpoint: str | None = None) -> Any:
    """The official client; `endpoint` points it at a local BigQuery emulator."""
    from google.cloud import bigquery

    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": endpoint},
        )
    return bigquery.Client(project=project)


def ensure_tables(client: Any, project: str, dataset: str, table: str = "events") -> None:
    """Create the dataset, the partitioned and clustered table, and the two views, if missing."""
    from google.cloud import bigquery

    client.create_dataset(f"{project}.{dataset}", exists_ok=True)
    schema = [bigquery.SchemaField.from_api_repr(field) for field in schema_json()]
    events = bigquery.Table(f"{project}.{dataset}.{table}", schema=schema)
    events.time_partitioning = bigquery.TimePartitioning(
        type_=bigquery.TimePartitioningType.DAY, field="event_timestamp"
    )
    events.clustering_fields = ["object_type", "metric"]
    client.create_table(events, exists_ok=True)
    for view_name, sql_name in ((table + EVENTS_UNIQUE_VIEW_SUFFIX, "events_unique"), (FUNNEL_VIEW, "delivery_funnel")):
        view = bigquery.Table(f"{project}.{dataset}.{view_name}")
        view.view_query = view_sql(sql_name, project=project, dataset=dataset, table=table)
        client.create_table(view, exists_ok=True)


class BigQuerySink:
    """Streams rows into the event table. The client is created on first use."""

    def __init__(
        self, project: str, dataset: str, table: str = "events", *, endpoint: str | None = None, deadline_s: float = 2.5
    ) -> None:
        self.table_id = f"{project}.{dataset}.{table}"
        self.deadline_s = deadline_s
        self._project = project
        self._endpoint = endpoint
        self._client: Any = None
        self._lock = threading.Lock()

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        from google.cloud import bigquery

        try:
            # Customer.io waits 4 s: retry briefly inside that budget, then answer 503 and let
            # Customer.io's own retry take over (the library's default would retry for minutes).
            errors = self._get_client().insert_rows_json(
                self.table_id,
                rows,
                row_ids=[row["event_id"] for row in rows],
                retry=bigquery.DEFAULT_RETRY.with_deadline(self.deadline_s),
                timeout=self.deadline_s / 2,
            )
        except Exception as exc:
            raise SinkError(f"BigQuery insert failed ({type(exc).__name__})") from exc
        if errors:
            # Row errors name columns, not values, but keep only what we need for the log.
            first = errors[0].get("errors", [{}])[0]
            raise SinkError(f"BigQuery refused {len(errors)} row(s): {first.get('location')}: {first.get('reason')}")

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = bigquery_client(self._project, self._endpoint)
            return self._client
