output "backend_config" {
  description = "What terraform/envs/<env>/backend.hcl must hold for this environment."
  value       = { bucket = google_storage_bucket.state.name, prefix = "customerio-gcp" }
}

output "deployer_service_account" {
  description = "Service account of the apply trigger (gcloud builds triggers create ... --service-account)."
  value       = google_service_account.deployer.id
}

output "planner_service_account" {
  description = "Service account of the pull-request trigger: read-only, this environment's state only."
  value       = google_service_account.planner.id
}
