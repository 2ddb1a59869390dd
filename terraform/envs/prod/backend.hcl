bucket = "my-company-terraform-state"
prefix = "customerio-gcp/prod"
