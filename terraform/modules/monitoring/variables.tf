variable "project_id" {
  description = "Project monitored."
  type        = string
}

variable "environment" {
  description = "Shown in alert names and the dashboard title."
  type        = string
}

variable "functions" {
  description = "Function (Cloud Run service) names by role: identify, track, transactional, webhook."
  type        = map(string)
}

variable "dead_letter_subscriptions" {
  description = "Dead-letter inspection subscriptions by kind; any message there raises an alert."
  type        = map(string)
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
    window_s                 = optional(number, 300)
  })
  default = {}
  validation {
    condition     = var.thresholds.window_s >= 60
    error_message = "thresholds.window_s must be at least 60 seconds."
  }
}
