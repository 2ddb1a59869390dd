variable "project_id" {
  description = "Project monitored."
  type        = string
}

variable "environment" {
  description = "Shown in alert names and the dashboard title."
  type        = string
}

variable "functions" {
  description = "Short Cloud Run service names (not projects/.../services/NAME) by role: identify, track, transactional, webhook."
  type        = map(string)
  validation {
    condition     = alltrue([for name in values(var.functions) : can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", name))])
    error_message = "functions must map roles to short Cloud Run service names, as resource.labels.service_name holds them (not projects/P/locations/R/services/NAME)."
  }
}

variable "metrics_wait" {
  description = "How long to wait after creating the log-based metrics before creating alert policies on them (Cloud Monitoring needs up to ten minutes to see a new metric)."
  type        = string
  default     = "600s"
  validation {
    condition     = can(regex("^[0-9]+s$", var.metrics_wait))
    error_message = "metrics_wait must be whole seconds such as \"600s\"."
  }
}

variable "dead_letter_subscriptions" {
  description = "Dead-letter inspection subscriptions by kind; any message there raises an alert."
  type        = map(string)
}

variable "webhook" {
  description = "webhook-ingest's short Cloud Run service name, its quarantine subscription, and its dead-letter subscriptions (bigquery, routing)."
  type = object({
    service_name              = string
    quarantine_subscription   = string
    dead_letter_subscriptions = map(string)
  })
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) that alerts go to."
  type        = list(string)
  default     = []
}

variable "thresholds" {
  description = "Alert thresholds; every field has a default."
  type = object({
    error_rate_per_s         = optional(number, 0.5)
    rate_limited_per_s       = optional(number, 0.2)
    webhook_rejections_per_s = optional(number, 0.5)
    function_5xx_per_s       = optional(number, 1)
    webhook_401_per_s        = optional(number, 0)
    window_s                 = optional(number, 300)
  })
  default = {}
  validation {
    condition     = var.thresholds.window_s >= 60
    error_message = "thresholds.window_s must be at least 60 seconds."
  }
}

variable "success_lines" {
  description = "metric -> outcomes of the INFO lines that say all went well (pipeline.json logging.success_lines)."
  type        = map(list(string))
  validation {
    condition     = length(var.success_lines) > 0 && alltrue([for metric, outcomes in var.success_lines : can(regex("^[a-z_]+$", metric)) && length(outcomes) > 0 && alltrue([for o in outcomes : can(regex("^[a-z_]+$", o))])])
    error_message = "success_lines must map metric names to lists of outcomes, lower-case words such as operation = [\"success\"]."
  }
}

variable "success_log_functions" {
  description = "Roles (keys of functions) whose success lines and answered-request entries are sampled in storage."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for role in var.success_log_functions : contains(keys(var.functions), role)])
    error_message = "success_log_functions must name roles of var.functions."
  }
}

variable "success_log_sampling" {
  description = "Share of the success lines kept in the _Default log bucket; the rest are excluded from storage (the log-based metrics still count them). 1: no exclusion."
  type        = number
  default     = 1
  validation {
    condition     = var.success_log_sampling >= 0 && var.success_log_sampling <= 1
    error_message = "success_log_sampling is the share of success lines kept: a number from 0 (none) to 1 (all)."
  }
}
