# Secret containers only. Values are added by hand (or by your secret pipeline) with
# `gcloud secrets versions add`, so no secret value is ever in code, variables or state.
locals {
  secrets = toset(["site_id", "track_api_key", "app_api_key", "webhook_signing_key", "webhook_signing_key_next"])
  grants = merge([
    for secret, readers in var.accessors : { for reader, member in readers : "${secret}/${reader}" => { secret = secret, member = member } }
  ]...)
}

resource "google_secret_manager_secret" "this" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = "${var.prefix}-${replace(each.key, "_", "-")}"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each  = local.grants
  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
