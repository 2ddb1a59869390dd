output "dashboard_id" {
  description = "The Cloud Monitoring dashboard."
  value       = google_monitoring_dashboard.this.id
}

output "log_metrics" {
  description = "Log-based metric names."
  value = [
    google_logging_metric.operation_latency.name,
    google_logging_metric.operation_errors.name,
    google_logging_metric.rate_limited.name,
    google_logging_metric.webhook_rejections.name,
    google_logging_metric.dead_letters.name,
    google_logging_metric.configuration_errors.name,
    google_logging_metric.webhook_quarantined.name,
  ]
}

output "configuration_errors_filter" {
  description = "The log filter of the Customer.io configuration-error metric (its alert tells a person; deliveries are retried meanwhile)."
  value       = google_logging_metric.configuration_errors.filter
}

output "success_lines_exclusion_filter" {
  description = "The filter of the exclusion that keeps only a sample of the success lines in storage; null when every line is kept."
  value       = one(google_logging_project_exclusion.success_lines[*].filter)
}
