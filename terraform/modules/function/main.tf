# One Cloud Function (2nd gen) with its own least-privilege service account. Callers grant that
# account what the function needs (secrets, topics, datasets); this module grants nothing else.
# The build runs as a build service account the caller provides (never the default Cloud Build or
# Compute account, which get no roles in organisations that follow the 2024 default policy) and
# pushes its image to the caller's Artifact Registry repository.

locals {
  # The Cloud Run service behind a 2nd-gen function: service_config[0].service is its full
  # resource name (projects/P/locations/R/services/NAME); metrics and IAM want the short NAME.
  service_path = google_cloudfunctions2_function.this.service_config[0].service
  service_name = regex("[^/]+$", local.service_path)
}

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "Cloud Function ${var.name}"
}

resource "google_storage_bucket_object" "source" {
  # The content hash in the name makes a code change redeploy the function.
  name   = "functions/${var.name}-${filemd5(var.source_archive)}.zip"
  bucket = var.source_bucket
  source = var.source_archive
}

locals {
  # functions-framework serves with gunicorn threads (default 4 per vCPU): one thread per request
  # the instance may be sent, or the concurrency set below would queue inside the instance.
  env_vars = merge(var.env_vars, { THREADS = tostring(var.scaling.concurrency) })
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Only webhook-ingest is public (var.public): Customer.io calls it from the internet and every request is HMAC-verified; delivery functions are internal-only.
  project  = var.project_id
  location = var.region
  name     = var.name
  labels   = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = var.entry_point
    service_account   = "projects/${var.project_id}/serviceAccounts/${var.build_service_account_email}"
    docker_repository = var.docker_repository
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    max_instance_count               = var.scaling.max_instances
    min_instance_count               = var.scaling.min_instances
    max_instance_request_concurrency = var.scaling.concurrency
    available_memory                 = var.scaling.memory
    available_cpu                    = var.scaling.cpu
    timeout_seconds                  = var.scaling.timeout_s
    environment_variables            = local.env_vars
    ingress_settings                 = var.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.this.email
  }
}

# 2nd-gen functions are Cloud Run services: invocation is run.invoker on the service.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = var.public ? { public = "allUsers" } : var.invokers
  project  = var.project_id
  location = var.region
  service  = local.service_name
  role     = "roles/run.invoker"
  member   = each.value
}
