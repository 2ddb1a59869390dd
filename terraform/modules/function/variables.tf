variable "project_id" {
  description = "Project of the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name (also the service account's base name)."
  type        = string
  validation {
    condition     = length(regexall("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name)) > 0
    error_message = "name must be lower-case letters, digits and '-', 2-50 characters, starting with a letter."
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
