variable "project_id" {
  description = "The environment's Google Cloud project (it must exist, with billing enabled)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id: 6-30 lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "dev, staging or prod: names the service accounts (cio-<env>-deployer, cio-<env>-plan)."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "state_location" {
  description = "Location of the Terraform state bucket (a region or multi-region)."
  type        = string
  default     = "EU"
}

variable "deployer_roles" {
  description = "Project roles of the deployer account (Cloud Build apply builds): what terraform/ manages, no basic roles."
  type        = list(string)
  default = [
    "roles/artifactregistry.admin", "roles/bigquery.admin", "roles/cloudfunctions.admin",
    "roles/datastore.owner", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser",
    "roles/logging.configWriter", "roles/logging.logWriter", "roles/monitoring.editor", "roles/pubsub.admin",
    "roles/resourcemanager.projectIamAdmin", "roles/run.admin", "roles/secretmanager.admin",
    "roles/serviceusage.serviceUsageAdmin", "roles/storage.admin",
  ]
  validation {
    condition     = alltrue([for r in var.deployer_roles : !contains(["roles/owner", "roles/editor", "roles/viewer"], r)])
    error_message = "deployer_roles must not hold basic roles (owner, editor, viewer)."
  }
}

variable "planner_roles" {
  description = "Project roles of the plan-only account (pull-request builds): reading, never writing."
  type        = list(string)
  default = [
    "roles/artifactregistry.reader", "roles/bigquery.metadataViewer", "roles/cloudfunctions.viewer",
    "roles/datastore.viewer", "roles/iam.securityReviewer", "roles/iam.serviceAccountViewer",
    "roles/logging.logWriter", "roles/logging.viewer", "roles/monitoring.viewer", "roles/pubsub.viewer",
    "roles/run.viewer", "roles/secretmanager.viewer", "roles/serviceusage.serviceUsageViewer",
    "roles/storage.bucketViewer",
  ]
  validation {
    # Read-only: viewers, readers, reviewers; logWriter only so the build can write its own log.
    condition     = alltrue([for r in var.planner_roles : can(regex("(Viewer|viewer|reader|Reviewer|^roles/logging.logWriter)$", r))])
    error_message = "planner_roles must be read-only roles (…viewer, …reader, …Reviewer; roles/logging.logWriter for build logs)."
  }
}
