project_id  = "my-company-customerio-stg"
environment = "staging"
region      = "europe-west1"
customerio  = { region = "eu" }
bigquery    = { location = "EU", partition_expiration_days = 90 }
functions   = { concurrency = 8, webhook_max_instances = 10 }
