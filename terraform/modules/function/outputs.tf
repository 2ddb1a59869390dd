output "min_instances" {
  description = "Instances kept warm, as deployed."
  value       = google_cloudfunctions2_function.this.service_config[0].min_instance_count
}

output "url" {
  description = "The function's HTTPS URL."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service_account_email" {
  description = "The function's own service account."
  value       = google_service_account.this.email
}

output "service_account_member" {
  description = "The service account as an IAM member."
  value       = "serviceAccount:${google_service_account.this.email}"
}

output "service" {
  description = "The Cloud Run service behind the function: its full resource name (projects/P/locations/R/services/NAME)."
  value       = local.service_path
}

output "service_name" {
  description = "The Cloud Run service's short name, as Cloud Monitoring's resource.labels.service_name holds it."
  value       = local.service_name
}

output "env_vars" {
  description = "The environment the function runs with, as deployed: settings, topic paths and secret ids (never secret values)."
  value       = google_cloudfunctions2_function.this.service_config[0].environment_variables
}
