variable "project_id" {
  description = "The Google Cloud project of this environment (create it, enable billing; Terraform does the rest)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project id: 6-30 lower-case letters, digits and hyphens."
  }
}

variable "environment" {
  description = "dev, staging or prod: names, labels and alert titles."
  type        = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "Region of the functions and the source bucket."
  type        = string
  default     = "europe-west1"
}

variable "customerio" {
  description = <<-EOT
    The Customer.io workspace: its region (us or eu) and its rate budgets in requests per second.
    Customer.io documents 100/s for the Track API and for transactional sends; the functions' max
    instances are derived from these (see locals.scaling in main.tf).
  EOT
  type = object({
    region            = optional(string, "us")
    track_rps         = optional(number, 100)
    transactional_rps = optional(number, 100)
    # Share of the Track budget each Track-API function may use; they share one workspace limit.
    track_share = optional(object({ identify = number, track = number }), { identify = 0.5, track = 0.5 })
    # Typical Customer.io answer time, which with the concurrency turns a budget into instances.
    expected_latency_ms = optional(number, 200)
  })
  default = {}
  validation {
    condition     = contains(["us", "eu"], var.customerio.region)
    error_message = "customerio.region must be \"us\" or \"eu\"."
  }
  validation {
    condition     = var.customerio.track_rps > 0 && var.customerio.transactional_rps > 0
    error_message = "customerio rate budgets must be positive."
  }
  validation {
    condition     = var.customerio.track_share.identify + var.customerio.track_share.track <= 1
    error_message = "customerio.track_share.identify + track must not exceed 1: they share one Track API budget."
  }
}

variable "functions" {
  description = <<-EOT
    Function sizing. track_concurrency: requests per instance of identify and track, which coalesce
    them into Track API calls (issue 14); concurrency: of transactional, one Customer.io call per
    message. Max instances follow from these and the rate budgets (main.tf, locals).
  EOT
  type = object({
    track_concurrency     = optional(number, 80)
    concurrency           = optional(number, 8)
    memory                = optional(string, "256Mi")
    webhook_max_instances = optional(number, 20)
    webhook_concurrency   = optional(number, 20)
    runtime               = optional(string, "python312")
    # Instances kept warm, by function (identify, track, transactional, webhook_ingest): each
    # hides the cold start of a first message (the Firestore or Pub/Sub client it must load,
    # about half a second) and is billed while idle. 0 unless set.
    min_instances = optional(map(number), {})
  })
  default = {}
  validation {
    condition = alltrue([
      for name, count in var.functions.min_instances :
      contains(["identify", "track", "transactional", "webhook_ingest"], name) && count >= 0 && floor(count) == count
    ])
    error_message = "functions.min_instances: keys among identify, track, transactional, webhook_ingest; whole numbers >= 0."
  }
  validation {
    condition     = var.functions.concurrency >= 1 && var.functions.concurrency <= 80
    error_message = "functions.concurrency must be between 1 and 80."
  }
  validation {
    # Cloud Functions allows up to 1000 concurrent requests per instance; beyond 80 a 1-vCPU
    # instance spends more time scheduling than sending.
    condition     = var.functions.track_concurrency >= 1 && var.functions.track_concurrency <= 250 && floor(var.functions.track_concurrency) == var.functions.track_concurrency
    error_message = "functions.track_concurrency must be a whole number between 1 and 250 (80 by default)."
  }
}

variable "package_dir" {
  description = "Where `make package` left the function zips (relative to this folder)."
  type        = string
  default     = "../build/functions"
}

variable "webhook" {
  description = <<-EOT
    webhook-ingest: personal data handling (hash, keep, drop), and the application's HTTPS endpoint
    that receives the routed metrics (pipeline.json webhook.routed_metrics) by push; null: the
    application pulls the routing subscription.
  EOT
  type = object({
    personal_data = optional(string, "hash")
    app_endpoint  = optional(string)
  })
  default = {}
  validation {
    condition     = contains(["hash", "keep", "drop"], var.webhook.personal_data)
    error_message = "webhook.personal_data must be hash, keep or drop."
  }
  validation {
    condition     = var.webhook.app_endpoint == null || can(regex("^https://[^\\s]+$", var.webhook.app_endpoint))
    error_message = "webhook.app_endpoint must be an https:// URL (Pub/Sub pushes only to HTTPS), or unset to pull."
  }
}

variable "bigquery" {
  description = "Where reporting events land."
  type = object({
    dataset_id                = optional(string, "customerio")
    location                  = optional(string, "EU")
    partition_expiration_days = optional(number)
    deletion_protection       = optional(bool, true)
  })
  default = {}
}

variable "skip_unchanged_identifies" {
  description = "Do not send an identify whose attributes Customer.io already accepted (saves Track API budget; see README)."
  type        = bool
  default     = true
}

variable "success_log_sampling" {
  description = <<-EOT
    Share of the entries that say all went well kept in the _Default log bucket, for identify,
    track and webhook-ingest: their INFO success lines (pipeline.json logging.success_lines: an
    operation that succeeded or was skipped as unchanged, a message delivered, a webhook request
    accepted) and Cloud Run's request log entries of requests answered below 400. They are most
    of the log volume, two or three entries per message; the rest are excluded from storage, so
    not billed. The log-based metrics still count every line (they are project metrics, computed
    from all entries received, excluded or not), the request alerts read Cloud Run's own metrics,
    warnings and errors are always kept, and transactional keeps every line (each send's line
    carries Customer.io's delivery_id). 1 keeps everything (no exclusion); 0 keeps none.
    docs/cost.md, last section.
  EOT
  type        = number
  default     = 0.1
  validation {
    condition     = var.success_log_sampling >= 0 && var.success_log_sampling <= 1
    error_message = "success_log_sampling is the share of success lines kept: a number from 0 (none) to 1 (all)."
  }
}

variable "idempotency_ttl_days" {
  description = "How long send-once records are kept (Firestore TTL). At least Pub/Sub's 7-day retention, so a replay within it is still de-duplicated."
  type        = number
  default     = 8
  validation {
    condition     = var.idempotency_ttl_days >= 7
    error_message = "idempotency_ttl_days must be at least 7 (Pub/Sub retains messages for up to 7 days)."
  }
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channels for alerts (projects/P/notificationChannels/N). Required in prod: an alert nobody receives cannot keep a message from being lost."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be channel names like projects/PROJECT/notificationChannels/1234567890 (gcloud beta monitoring channels list)."
  }
  validation {
    condition     = var.environment != "prod" || length(var.notification_channels) > 0
    error_message = "prod needs at least one notification channel: dead letters, quarantined webhooks and Customer.io credential errors must reach a person (docs/deploy.md, \"2. Variables\")."
  }
}

variable "alert_thresholds" {
  description = "Overrides of the monitoring module's thresholds."
  type = object({
    error_rate_per_s         = optional(number, 0.5)
    rate_limited_per_s       = optional(number, 0.2)
    webhook_rejections_per_s = optional(number, 0.5)
    function_5xx_per_s       = optional(number, 1)
    webhook_401_per_s        = optional(number, 0)
    window_s                 = optional(number, 300)
  })
  default = {}
}

variable "labels" {
  description = "Extra labels on every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "propagation_waits" {
  description = <<-EOT
    Waits on the first apply for what Google Cloud makes visible late: service agents after their
    API is enabled, and log-based metrics before alert policies may use them (up to ten minutes,
    "Cannot find metric(s)" otherwise). Later applies do not wait unless the set changes.
  EOT
  type = object({
    service_agents = optional(string, "60s")
    log_metrics    = optional(string, "600s")
  })
  default = {}
  validation {
    condition     = alltrue([for d in values(var.propagation_waits) : can(regex("^[0-9]+s$", d))])
    error_message = "propagation_waits values must be whole seconds such as \"600s\"."
  }
}
