# The event table and its views, from the same schema and SQL files the code uses
# (shared/src/customerio_gcp/webhooks/bigquery/): one source of truth.

locals {
  unique_view = "${var.table_id}_unique"
  template_vars = {
    project     = var.project_id
    dataset     = var.dataset_id
    table       = var.table_id
    unique_view = local.unique_view
  }
}

resource "google_bigquery_dataset" "this" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  project     = var.project_id
  dataset_id  = var.dataset_id
  location    = var.location
  description = "Customer.io reporting webhook events (customerio-gcp)."
  labels      = var.labels
}

resource "google_bigquery_table" "events" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  #checkov:skip=CKV_GCP_121:deletion_protection is a variable, true by default; dev turns it off on purpose.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = var.table_id
  description         = "One row per received event; query the ${local.unique_view} view for one row per event_id."
  schema              = file("${var.schema_dir}/events_table.json")
  clustering          = ["object_type", "metric"]
  deletion_protection = var.deletion_protection
  labels              = var.labels

  time_partitioning {
    type          = "DAY"
    field         = "event_timestamp"
    expiration_ms = var.partition_expiration_days == null ? null : var.partition_expiration_days * 86400000
  }
}

resource "google_bigquery_table" "events_unique" {
  #checkov:skip=CKV_GCP_80:A view stores no data.
  #checkov:skip=CKV_GCP_121:A view is recreated from its SQL file; protecting it only blocks changes.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = local.unique_view
  deletion_protection = false
  labels              = var.labels

  view {
    query          = templatefile("${var.schema_dir}/events_unique.sql", local.template_vars)
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.events]
}

resource "google_bigquery_table" "delivery_funnel" {
  #checkov:skip=CKV_GCP_80:A view stores no data.
  #checkov:skip=CKV_GCP_121:A view is recreated from its SQL file; protecting it only blocks changes.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "delivery_funnel"
  deletion_protection = false
  labels              = var.labels

  view {
    query          = templatefile("${var.schema_dir}/delivery_funnel.sql", local.template_vars)
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.events_unique]
}
