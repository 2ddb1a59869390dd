project_id  = "my-company-customerio-dev"
environment = "dev"
region      = "europe-west1"
customerio  = { region = "eu" }
bigquery    = { location = "EU", partition_expiration_days = 30, deletion_protection = false }
functions   = { concurrency = 8, webhook_max_instances = 5 }
# Every success line stays searchable in dev: its volume costs little.
success_log_sampling = 1
