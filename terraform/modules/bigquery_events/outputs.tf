output "dataset_id" {
  description = "The dataset."
  value       = google_bigquery_dataset.this.dataset_id
}

output "table_id" {
  description = "The event table."
  value       = google_bigquery_table.events.table_id
}

output "views" {
  description = "The views analysts query."
  value       = { unique = google_bigquery_table.events_unique.table_id, funnel = google_bigquery_table.delivery_funnel.table_id }
}
