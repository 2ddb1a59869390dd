terraform {
  required_version = ">= 1.6"
  required_providers {
    google = { source = "hashicorp/google", version = ">= 6.50, < 7.0" }
  }
  # Local state, one workspace per environment (terraform workspace select -or-create <env>):
  # bootstrap runs once per environment, by a project owner, before anything else. Keep
  # terraform.tfstate.d/<env>/ with the environment's records, or migrate it into the bucket it
  # creates (add a gcs backend, then terraform init -migrate-state).
}

provider "google" {
  project = var.project_id
}
