# Bootstrap of one environment, run once by a project owner before the first deploy:
#   - the APIs Terraform itself needs before it can plan terraform/ (Resource Manager reads the
#     project and its IAM; Service Usage enables the rest; Cloud Build runs the deploys);
#   - the environment's own Terraform state bucket (one per environment and project, so no build
#     of one environment can read or change another's state);
#   - a deployer account for apply builds and a plan-only account for pull-request builds, with
#     write and read access to this state bucket only.
# Commands: docs/deploy.md, "1. Bootstrap".

locals {
  state_bucket = "${var.project_id}-tfstate"
}

resource "google_project_service" "bootstrap" {
  for_each = toset([
    "cloudbuild.googleapis.com", "cloudresourcemanager.googleapis.com", "iam.googleapis.com",
    "pubsub.googleapis.com", "serviceusage.googleapis.com", "storage.googleapis.com",
  ])
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_storage_bucket" "state" {
  #checkov:skip=CKV_GCP_62:Terraform state: Cloud Audit Logs (data access) record reads; a separate access-log bucket adds nothing here.
  project                     = var.project_id
  name                        = local.state_bucket
  location                    = var.state_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = { app = "customerio-gcp", environment = var.environment, purpose = "terraform-state" }
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      num_newer_versions = 20
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.bootstrap]
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "cio-${var.environment}-deployer"
  display_name = "customerio-gcp: Cloud Build apply builds (${var.environment})"
  depends_on   = [google_project_service.bootstrap]
}

resource "google_service_account" "planner" {
  project      = var.project_id
  account_id   = "cio-${var.environment}-plan"
  display_name = "customerio-gcp: pull-request builds, tests and terraform plan only (${var.environment})"
  depends_on   = [google_project_service.bootstrap]
}

resource "google_project_iam_member" "deployer" {
  #checkov:skip=CKV_GCP_41:The deployer creates the functions' service accounts and lets Cloud Functions act as them (iam.serviceAccountUser); it is used only by the approval-gated apply trigger.
  #checkov:skip=CKV_GCP_49:The deployer manages the functions' service accounts (iam.serviceAccountAdmin); it is used only by the approval-gated apply trigger.
  for_each = toset(var.deployer_roles)
  project  = var.project_id
  role     = each.value
  member   = google_service_account.deployer.member
}

resource "google_project_iam_member" "planner" {
  for_each = toset(var.planner_roles)
  project  = var.project_id
  role     = each.value
  member   = google_service_account.planner.member
}

# State: the deployer reads, writes and locks; the planner only reads (plans run with -lock=false).
resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.deployer.member
}

resource "google_storage_bucket_iam_member" "planner_state" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.planner.member
}
