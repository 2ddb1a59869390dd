terraform {
  required_version = ">= 1.6"
  required_providers {
    google = { source = "hashicorp/google", version = ">= 6.50, < 7.0" }
  }
  # Local state: bootstrap runs once per environment, by a project owner, before anything else.
  # Keep terraform.tfstate with the environment's records (or migrate it into the bucket it
  # creates: terraform init -migrate-state -backend-config=... after adding a gcs backend).
}

provider "google" {
  project = var.project_id
}
