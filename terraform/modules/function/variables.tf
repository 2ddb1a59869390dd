variable "project_id" {
  description = "Project of the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name, which is also the name of its Cloud Run service."
  type        = string
  validation {
    # Function ids: 4-63 of [a-z0-9-] (Cloud Functions v2 API); Cloud Run service names: at most 49,
    # starting with a letter, not ending with '-'.
    condition     = can(regex("^[a-z][a-z0-9-]{2,47}[a-z0-9]$", var.name))
    error_message = "name must be 4-49 lower-case letters, digits and '-', start with a letter and not end with '-' (Cloud Run service name rules)."
  }
}

variable "service_account_id" {
  description = "account_id of the function's own service account (the part before '@')."
  type        = string
  validation {
    # The provider's verify.ValidateRFC1035Name(6, 30) (resource_google_service_account.go).
    condition     = can(regex("^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$", var.service_account_id))
    error_message = "service_account_id must be 6-30 characters: a lower-case letter, then letters, digits or '-', ending with a letter or digit (RFC 1035)."
  }
}

variable "build_service_account_email" {
  description = "Email of the service account Cloud Build runs this function's build as (logging.logWriter, artifactregistry.writer on the repository, storage.objectViewer on the source bucket)."
  type        = string
  validation {
    condition     = can(regex("^[^@]+@[^@]+\\.iam\\.gserviceaccount\\.com$", var.build_service_account_email))
    error_message = "build_service_account_email must be a user-managed service account (NAME@PROJECT.iam.gserviceaccount.com), not a default account."
  }
}

variable "docker_repository" {
  description = "Artifact Registry repository the build pushes the function's image to: projects/P/locations/R/repositories/NAME."
  type        = string
  validation {
    condition     = can(regex("^projects/[^/]+/locations/[^/]+/repositories/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.docker_repository))
    error_message = "docker_repository must be projects/PROJECT/locations/REGION/repositories/NAME."
  }
}

variable "entry_point" {
  description = "The Python function in main.py."
  type        = string
}

variable "source_archive" {
  description = "Path of the zip built by `make package` (main.py, requirements.txt and the vendored customerio_gcp package)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket the source zip is uploaded to."
  type        = string
}

variable "runtime" {
  description = "Cloud Functions Python runtime."
  type        = string
  default     = "python312"
  validation {
    condition     = length(regexall("^python3(11|12|13)$", var.runtime)) > 0
    error_message = "runtime must be python311, python312 or python313."
  }
}

variable "public" {
  description = "true: anyone may call it (webhook-ingest, which verifies signatures). false: internal traffic only, callable only by `invokers`."
  type        = bool
  default     = false
}

variable "invokers" {
  description = "Members granted roles/run.invoker on the function's service, by a static key (keys must be known at plan time)."
  type        = map(string)
  default     = {}
}

variable "scaling" {
  description = "Instance sizing. concurrency > 1 needs cpu >= 1."
  type = object({
    max_instances = number
    min_instances = optional(number, 0)
    concurrency   = optional(number, 8)
    memory        = optional(string, "256Mi")
    cpu           = optional(string, "1")
    timeout_s     = optional(number, 60)
  })
  validation {
    condition     = var.scaling.max_instances >= 1 && var.scaling.max_instances <= 1000
    error_message = "scaling.max_instances must be between 1 and 1000."
  }
  validation {
    # Warm instances hide cold starts (the Google clients a first message needs) and are billed
    # while idle; never more than may run.
    condition     = var.scaling.min_instances >= 0 && var.scaling.min_instances <= var.scaling.max_instances && floor(var.scaling.min_instances) == var.scaling.min_instances
    error_message = "scaling.min_instances must be a whole number from 0 to scaling.max_instances."
  }
  validation {
    condition     = var.scaling.concurrency >= 1 && var.scaling.concurrency <= 1000
    error_message = "scaling.concurrency must be between 1 and 1000."
  }
  validation {
    condition     = var.scaling.timeout_s >= 1 && var.scaling.timeout_s <= 540
    error_message = "scaling.timeout_s must be between 1 and 540 (the Pub/Sub ack deadline should exceed it)."
  }
}

variable "env_vars" {
  description = "Environment variables (see customerio_gcp/settings.py). Never secret values: pass secret ids (*_SECRET)."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels on the function."
  type        = map(string)
  default     = {}
}
