"""The event table and its views on the local BigQuery emulator, from the runtime's schema and
SQL files (`customerio_gcp/webhooks/bigquery/`), which Terraform reads too."""

from __future__ import annotations

import json
from importlib import resources
from string import Template
from typing import Any

from customerio_gcp.webhooks.rows import PARTITION_COLUMN

EVENTS_UNIQUE_VIEW_SUFFIX = "_unique"
FUNNEL_VIEW = "delivery_funnel"


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
        type_=bigquery.TimePartitioningType.DAY, field=PARTITION_COLUMN
    )
    events.clustering_fields = ["object_type", "metric"]
    client.create_table(events, exists_ok=True)
    for view_name, sql_name in ((table + EVENTS_UNIQUE_VIEW_SUFFIX, "events_unique"), (FUNNEL_VIEW, "delivery_funnel")):
        view = bigquery.Table(f"{project}.{dataset}.{view_name}")
        view.view_query = view_sql(sql_name, project=project, dataset=dataset, table=table)
        client.create_table(view, exists_ok=True)
