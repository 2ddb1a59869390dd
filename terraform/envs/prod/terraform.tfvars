project_id  = "my-company-customerio-prod"
environment = "prod"
region      = "europe-west1"
customerio  = { region = "eu", track_rps = 100, transactional_rps = 100 }
bigquery    = { location = "EU" }
# One warm webhook-ingest: Customer.io's reporting stream never waits on a cold start.
functions = { concurrency = 8, webhook_max_instances = 20, min_instances = { webhook_ingest = 1 } }
# Required in prod (a validation refuses an empty list): gcloud beta monitoring channels list
notification_channels = ["projects/my-company-customerio-prod/notificationChannels/1234567890"]
