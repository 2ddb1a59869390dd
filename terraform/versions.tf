terraform {
  required_version = ">= 1.6"
  required_providers {
    # Pinned to the 6.x line the configuration is checked against (6.50).
    google = { source = "hashicorp/google", version = ">= 6.50, < 7.0" }
    # time_sleep: waits for service agents and new log-based metrics on the first apply.
    time = { source = "hashicorp/time", version = ">= 0.9, < 1.0" }
  }
  # Per environment: terraform init -backend-config=envs/<env>/backend.hcl
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
