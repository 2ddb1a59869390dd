terraform {
  required_version = ">= 1.6"
  required_providers {
    google = { source = "hashicorp/google", version = ">= 6.50, < 7.0" }
    time   = { source = "hashicorp/time", version = ">= 0.9, < 1.0" }
  }
}
