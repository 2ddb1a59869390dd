# Created by terraform/bootstrap (output backend_config): this environment's own state bucket.
bucket = "my-company-customerio-dev-tfstate"
prefix = "customerio-gcp"
